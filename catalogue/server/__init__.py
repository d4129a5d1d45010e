"""The pycsw side of the catalogue: runs in `.venv-pycsw` only."""
