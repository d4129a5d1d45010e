"""实施监督 supervision: indicator catalogue, models, monitoring values."""
