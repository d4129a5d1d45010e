"""A style as a MapLibre GL style document (version 8) over the layer's
OGC API vector tiles: one map layer per style rule, filtered by the rule's
attribute value; the source layer of the tiles is the table name."""

from __future__ import annotations

from typing import Any

from onemap.core.registry import Layer
from onemap.styles.model import Rule, Style

MAX_ZOOM = 20  # as the tile provider of onemap/ogc/config.py


def tiles_url(base_url: str, layer: Layer) -> str:
    return f"{base_url}/ogc/collections/{layer.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"


def _filter(rule: Rule, style: Style) -> list[Any] | None:
    if rule.filter:
        return ["==", ["get", rule.filter[0]], rule.filter[1]]
    others = [r.filter for r in style.rules if r.filter]
    if not others:
        return None
    # the rest: features no other rule matches
    return ["!", ["any", *(["==", ["get", f], v] for f, v in others)]]


def _layers(style: Style, layer: Layer, rule: Rule) -> list[dict[str, Any]]:
    symbol = rule.symbol
    common: dict[str, Any] = {"source": layer.id, "source-layer": layer.table_name,
                              "metadata": {"title_zh": rule.title.zh, "title_en": rule.title.en}}
    flt = _filter(rule, style)
    if flt is not None:
        common["filter"] = flt
    base = f"{layer.id}-{rule.name}"
    if style.geometry == "point":
        paint = {"circle-radius": symbol.size / 2, "circle-color": symbol.fill or "#000000",
                 "circle-opacity": symbol.fill_opacity}
        if symbol.stroke:
            paint |= {"circle-stroke-color": symbol.stroke, "circle-stroke-width": symbol.stroke_width}
        return [{"id": base, "type": "circle", **common, "paint": paint}]
    out: list[dict[str, Any]] = []
    thin_outline = symbol.stroke and symbol.stroke_width <= 1 and not symbol.dash
    if symbol.fill:
        paint = {"fill-color": symbol.fill, "fill-opacity": symbol.fill_opacity}
        if thin_outline:
            paint["fill-outline-color"] = symbol.stroke  # a 1-px outline costs no extra layer
        out.append({"id": f"{base}-fill", "type": "fill", **common, "paint": paint})
    if symbol.stroke and not (symbol.fill and thin_outline):
        paint = {"line-color": symbol.stroke, "line-width": symbol.stroke_width}
        if symbol.dash:
            # MapLibre dash lengths are in line widths, SLD/MapServer ones in pixels
            paint["line-dasharray"] = [d / symbol.stroke_width for d in symbol.dash]
        out.append({"id": f"{base}-line", "type": "line", **common, "paint": paint})
    return out


def to_maplibre(style: Style, layer: Layer, base_url: str) -> dict[str, Any]:
    """The MapLibre style JSON of `style` for `layer` served at `base_url`."""
    map_layers = [item for rule in style.rules for item in _layers(style, layer, rule)]
    return {
        "version": 8,
        "name": f"{style.title.zh} {style.title.en}",
        "metadata": {"onemap:style": style.id, "onemap:layer": layer.id,
                     "onemap:label": {"field": style.label.field, "minzoom": style.label.min_zoom}
                     if style.label else None},
        "sources": {
            layer.id: {
                "type": "vector",
                "tiles": [tiles_url(base_url, layer)],
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "attribution": "益阳市自然资源和规划局",
            }
        },
        "layers": map_layers,
    }
