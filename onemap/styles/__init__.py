"""Layer styles: styles/*.yaml as data (model) and their SLD 1.1, MapLibre
and MapServer renderings (sld, maplibre, mapserver)."""
