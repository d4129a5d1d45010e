"""The style documents the gateway serves at /styles/{id}.sld and
/styles/{id}.json, and the links to them in each collection."""

from __future__ import annotations

import json
from typing import Any

from onemap.core.errors import OneMapError, Problem
from onemap.core.registry import Layer
from onemap.styles.maplibre import to_maplibre
from onemap.styles.model import load_style
from onemap.styles.sld import to_sld

SLD_TYPE = "application/vnd.ogc.sld+xml;version=1.1"
MAPLIBRE_TYPE = "application/vnd.maplibre.style+json"
FORMATS = {"sld": SLD_TYPE, "json": MAPLIBRE_TYPE}


def style_layer(style_id: str, layers: list[Layer], layer_id: str | None = None) -> Layer:
    """The registry layer a style is drawn for: `layer_id` when given (a
    style several layers share, e.g. a warning level), else the first layer
    that names it."""
    for layer in layers:
        if layer.style == style_id and layer_id in (None, layer.id):
            return layer
    if layer_id is not None:
        raise OneMapError(Problem(404, "NotFound", f"图层 {layer_id} 不使用样式 {style_id}",
                                  f"The layer {layer_id} does not use the style {style_id}", field="layer"))
    raise OneMapError(Problem(404, "NotFound", f"样式 {style_id} 不存在", f"There is no style {style_id}",
                              field="styleId"))


def style_document(style_id: str, fmt: str, layer: Layer, base_url: str) -> tuple[bytes, str]:
    """(body, media type) of the style in format `fmt` ('sld' or 'json')."""
    if fmt not in FORMATS:
        raise OneMapError(Problem(400, "InvalidParameterValue", f"不支持的样式格式：{fmt}（可用：sld、json）",
                                  f"Unsupported style format {fmt!r}: sld or json", field="format"))
    style = load_style(style_id)
    if fmt == "sld":
        return to_sld(style, layer.id), SLD_TYPE
    document = to_maplibre(style, layer, base_url)
    return json.dumps(document, ensure_ascii=False).encode("utf-8"), MAPLIBRE_TYPE


def style_links(layer: Layer, base_url: str) -> list[dict[str, Any]]:
    """rel=stylesheet links of a collection (pygeoapi 0.24 has no OGC API
    Styles), and the layer's WMS and WMTS services."""
    style = f"{base_url}/styles/{layer.style}"
    return [
        {"type": SLD_TYPE, "rel": "stylesheet", "href": f"{style}.sld?layer={layer.id}",
         "title": "样式（SLD 1.1，QGIS 等） Style as SLD 1.1", "hreflang": "zh-CN"},
        {"type": MAPLIBRE_TYPE, "rel": "stylesheet", "href": f"{style}.json?layer={layer.id}",
         "title": "样式（MapLibre，矢量瓦片） Style for MapLibre over the vector tiles", "hreflang": "zh-CN"},
        {"type": "application/vnd.ogc.wms_xml", "rel": "related",
         "href": f"{base_url}/mapproxy/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
         "title": f"WMS 1.3 地图服务（图层 {layer.id}） WMS layer {layer.id}"},
        {"type": "application/xml", "rel": "related",
         "href": f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml",
         "title": f"WMTS 1.0 瓦片地图服务（图层 {layer.id}） WMTS layer {layer.id}"},
    ]
