"""省级图层 The provincial platform's own map layers (e.g. its ecological
protection red line, as the province draws it) from its WMS, served through
our MapProxy in WMS and WMTS, in our grids (WebMercatorQuad and CGCS2000),
under the names and with the access decision config/integration.yaml gives
them (internal unless it says otherwise), each titled as the province's.

Not cached: the province redraws its lines on its own schedule and tells us
nothing, so a stored tile could show a superseded line as the current one;
every tile is asked of the province, within the configured timeout. When it
does not answer, a request for its layer fails with a clear error (an image
saying so beside our own layers in a WMS map), the rest of the map is
unaffected, and /healthz reports the province's maps down as a partner's
outage."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from integration.cloud import GRIDS
from integration.config import IntegrationConfig
from onemap.core.settings import Settings

PARTNER = "province"
SOURCE_SRS = ["EPSG:3857", "EPSG:4490"]  # our grids' own: asked as they are, never warped here
_REQUEST_PARAMS = {"service", "request", "version"}


def _province(settings: Settings) -> dict[str, Any] | None:
    province = IntegrationConfig.of(settings).partners.get(PARTNER) or {}
    return province if province.get("wms_url") and province.get("map_layers") else None


def service_url(url: str) -> str:
    """The WMS endpoint of a configured URL, which may be its GetCapabilities
    URL: the request's own parameters dropped, others (e.g. `map=`) kept."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _REQUEST_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def titles(layer: dict[str, Any]) -> dict[str, str]:
    """A layer's title in Chinese and English, saying whose it is."""
    return {"zh": f"{layer['zh']}（省级平台）", "en": f"{layer['en']} (provincial platform)"}


def catalogue_layers(settings: Settings) -> list[dict[str, Any]]:
    """The province's layers for our catalogue (config/components.yaml
    `catalogue_layers`): each a record of the province's, filed in its
    `directory` class, as visible as the layer; none when no provincial WMS
    is set."""
    province = _province(settings)
    if province is None:
        return []
    return [{"id": name, "partner": PARTNER, "owner": {"zh": province["zh"], "en": province["en"]},
             "layer": layer["layer"], "title": titles(layer), "sensitivity": layer.get("sensitivity", "internal"),
             "directory": layer["directory"], "topic": layer.get("topic")}
            for name, layer in province["map_layers"].items()]


def mapproxy_part(settings: Settings) -> dict[str, Any]:
    """Sources, caches (not stored) and layers to add to our MapProxy
    configuration (config/components.yaml `map_sources`), with each layer's
    access decision; nothing when no provincial WMS is set."""
    province = _province(settings)
    if province is None:
        return {}
    endpoint = service_url(province["wms_url"])
    timeout = float(province.get("map_timeout_seconds", 5))
    sources, caches, layers, sensitivity = {}, {}, [], {}
    for name, layer in province["map_layers"].items():
        sources[f"province_{name}"] = {
            "type": "wms", "req": {"url": endpoint, "layers": layer["layer"], "transparent": True},
            "supported_srs": SOURCE_SRS, "wms_opts": {"version": "1.1.1"},
            "http": {"client_timeout": timeout}}
        # a cache only so that WMTS can tile it: nothing is stored
        caches[f"{name}_cache"] = {"grids": GRIDS, "sources": [f"province_{name}"], "disable_storage": True,
                                   "format": "image/png"}
        layers.append({"name": name, "title": " ".join(titles(layer).values()), "sources": [f"{name}_cache"],
                       "md": {"abstract": f"{province['zh']}发布的图层 {layer['layer']}，经本系统转发。"
                                         f" Layer {layer['layer']} of the {province['en']}, served through ours."}})
        sensitivity[name] = layer.get("sensitivity", "internal")
    return {"sources": sources, "caches": caches, "layers": layers, "sensitivity": sensitivity}


def health() -> str:
    """/healthz (a partner check): the province's WMS capabilities name
    every configured layer."""
    province = _province(Settings.from_env())
    if province is None:
        return "not configured"
    try:
        response = requests.get(service_url(province["wms_url"]), timeout=float(province.get("map_timeout_seconds", 5)),
                                params={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.1.1"})
    except requests.RequestException as exc:
        raise RuntimeError(f"WMS: {exc.__class__.__name__}") from exc
    if response.status_code != 200:
        raise RuntimeError(f"WMS GetCapabilities: HTTP {response.status_code}")
    missing = [layer["layer"] for layer in province["map_layers"].values()
               if f"<Name>{layer['layer']}</Name>" not in response.text]
    if missing:
        raise RuntimeError(f"WMS GetCapabilities names no layer {', '.join(missing)}")
    return f"{len(province['map_layers'])} layers answer"
