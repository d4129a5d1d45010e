"""OGC API Processes of One Map: the domain logic in plain functions, with
thin pygeoapi plugin classes over it (one sub-package a concern)."""
