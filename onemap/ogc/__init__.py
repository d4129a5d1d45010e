"""OGC API services (pygeoapi): configuration and providers."""
