"""时空信息云 The city's spatio-temporal information cloud as a basemap: its
XYZ/WMTS tiles (vector and imagery, each with its annotation) proxied and
cached by our MapProxy as the layers CLOUD_VEC and CLOUD_IMG, in the grids
of our other layers (WebMercatorQuad, EPSG:3857, and CGCS2000, EPSG:4490):
the browser and QGIS fetch them from us, never from the cloud, and the key
stays on the server.

When the cloud does not answer, a tile comes back transparent and is not
cached (the map still answers, with our own layers; tiles cached before
keep showing), and /healthz reports the source down without taking the
gateway down (a partner's outage is not ours)."""

from __future__ import annotations

from typing import Any

import requests

from integration.config import IntegrationConfig
from onemap.core.settings import Settings

PARTNER = "cloud"
GRIDS = ["WebMercatorQuad", "CGCS2000"]
SOURCE_GRID = "WebMercatorQuad"  # the cloud's XYZ tiling: EPSG:3857, origin top left


def _partner(settings: Settings) -> dict[str, Any] | None:
    partner = IntegrationConfig.of(settings).partners.get(PARTNER) or {}
    return partner if partner.get("url") else None


def _key(settings: Settings, partner: dict[str, Any]) -> str:
    path = settings.var_dir / partner["key_file"] if partner.get("key_file") else None
    return path.read_text(encoding="utf-8").strip() if path and path.exists() else ""


def tile_url(partner: dict[str, Any], tiles: str, key: str) -> str:
    """The MapProxy URL template of one tile set of the cloud."""
    return (partner["url"].replace("{layer}", tiles).replace("{key}", key)
            .replace("{z}", "%(z)s").replace("{x}", "%(x)s").replace("{y}", "%(y)s"))


def mapproxy_part(settings: Settings) -> dict[str, Any]:
    """Sources, caches and layers to add to our MapProxy configuration
    (config/components.yaml `map_sources`) with each layer's access
    decision; nothing when no cloud is set."""
    partner = _partner(settings)
    if partner is None:
        return {}
    key = _key(settings, partner)
    sources, caches, layers, sensitivity = {}, {}, [], {}
    for name, layer in partner["layers"].items():
        for tiles in layer["tiles"]:
            sources[f"cloud_{tiles}"] = {
                "type": "tile", "url": tile_url(partner, tiles, key), "grid": SOURCE_GRID, "transparent": True,
                "http": {"client_timeout": float(partner.get("timeout_seconds", 5))},
                # unreachable or failing: a transparent tile, not cached, so it is fetched again later
                "on_error": {"other": {"response": "transparent", "cache": False}}}
        # the cloud's tiles as they come (not stored), and our cache of them in
        # both grids: MapProxy reprojects a cache, not a tile source, to EPSG:4490
        caches[f"{name}_source"] = {"grids": [SOURCE_GRID], "sources": [f"cloud_{t}" for t in layer["tiles"]],
                                    "disable_storage": True, "format": "image/png"}
        caches[f"{name}_cache"] = {"grids": GRIDS, "sources": [f"{name}_source"], "format": "image/png"}
        layers.append({"name": name, "title": f"{layer['zh']} {layer['en']}", "sources": [f"{name}_cache"]})
        sensitivity[name] = layer.get("sensitivity", "internal")
    return {"sources": sources, "caches": caches, "layers": layers, "sensitivity": sensitivity}


def health() -> str:
    """/healthz (a partner check): one tile of each tile set answers."""
    settings = Settings.from_env()
    partner = _partner(settings)
    if partner is None:
        return "not configured"
    key = _key(settings, partner)
    tiles = [t for layer in partner["layers"].values() for t in layer["tiles"]]
    for name in tiles:
        url = tile_url(partner, name, key) % {"z": 0, "x": 0, "y": 0}
        try:
            response = requests.get(url, timeout=float(partner.get("timeout_seconds", 5)))
        except requests.RequestException as exc:
            raise RuntimeError(f"{name}: {exc.__class__.__name__}") from exc  # the URL would show the key
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("image/"):
            raise RuntimeError(f"{name}: HTTP {response.status_code}")
    return f"{len(tiles)} tile sets answer"
