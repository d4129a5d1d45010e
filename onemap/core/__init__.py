"""The core (核心): what every part of One Map shares and nothing else —
settings, the layer registry, errors, database access, authentication and
access decisions, the audit writer, the "in force" SQL, units. It imports
nothing of the rest of the project (import-linter checks it)."""
