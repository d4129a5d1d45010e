"""/basemaps.json: the basemaps of config/basemaps.yaml that the caller may
read, each with its WMTS tile template through the gateway (底图列表)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from onemap.core.access import AccessPolicy
from onemap.core.components import Components, load_object
from onemap.core.settings import Settings, load_yaml

TILE_TEMPLATE = "{base}/mapproxy/wmts/{layer}/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"


def blueprint(settings: Settings, policy: AccessPolicy, sensitivity: dict[str, str]) -> Blueprint:
    bp = Blueprint("basemaps", __name__)
    # the top layers the domain adds to everyone's MapProxy (map_sources: the
    # cloud's CLOUD_VEC / CLOUD_IMG once configured), as this gateway has them
    parts = [load_object(reference)(settings) for reference in Components.load(settings.config_dir).map_sources]
    added = {layer["name"] for part in parts if "public" in part.get("audiences", ["public"])
             for layer in part.get("layers") or []}

    @bp.get("/basemaps.json")
    def basemaps() -> Response:
        entries = load_yaml(settings.config_dir / "basemaps.yaml")["basemaps"]
        listed = []
        for entry in entries:
            layer = entry.get("layer")
            if layer is not None and layer not in added and (
                    layer not in sensitivity or policy.check_layer(layer, g.principal, sensitivity) is not None):
                continue  # not a map name (yet), or not for this caller
            tiles = TILE_TEMPLATE.format(base=settings.base_url, layer=layer) if layer else None
            listed.append({"id": entry["id"], "title": entry["title"], "tiles": tiles})
        response = jsonify({"basemaps": listed})
        response.headers["Cache-Control"] = "no-store"  # it depends on who asks
        return response

    return bp
