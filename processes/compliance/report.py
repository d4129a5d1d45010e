"""The check report (检测报告), HTML and PDF from one template: the case,
the boundary and its area, a map of the boundary over the plan layers (a WMS
GetMap from the map service, the boundary and the overlaps drawn on top as
SVG), the findings, the rule set and data versions, the verification hash.
PDFs are made by processes.base.pdf_from_html (WeasyPrint, the Noto CJK font
embedded).

The map is a WMS 1.3.0 GetMap answered by MapServer from the map service's
own mapfile and styles (what MapProxy renders its tiles with), for exactly
the report's extent: through MapProxy's tile caches (4 x 4 meta-tiles per
layer) a one-off map of a random place took 5 to 25 s. It is the system's
evidence and shows the control lines whoever asked for the check (its
findings name them anyway)."""

from __future__ import annotations

import base64
import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pyproj
import shapely
from shapely.geometry import shape

from processes.base import wms_get_map

TEMPLATES = Path(__file__).parent / "templates"
VERDICT_COLORS = {"通过": "#2e9e4f", "提示": "#e0b400", "限制": "#f08c00", "不符合": "#e03131", "禁止": "#8b0000"}


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2")


@cache
def _to_map(crs: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4490, crs, always_xy=True)


def map_frame(boundary: dict[str, Any], settings: dict[str, Any]) -> tuple[tuple[float, float, float, float], Any]:
    """The map's bbox in the map CRS (the boundary's extent with a margin, at
    the image's aspect ratio) and the boundary in that CRS."""
    geom = shapely.transform(shape(boundary), _to_map(settings["crs"]).transform, interleaved=False)
    minx, miny, maxx, maxy = geom.bounds
    w, h = maxx - minx, maxy - miny
    margin = float(settings["margin"])
    w, h = max(w, 1.0) * (1 + 2 * margin), max(h, 1.0) * (1 + 2 * margin)
    aspect = settings["width"] / settings["height"]
    w, h = max(w, h * aspect), max(h, w / aspect)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), geom


def svg_path(geom: Any, bbox: tuple[float, float, float, float], width: int, height: int,
             crs: str) -> str:
    """An SVG path of a (multi)polygon in map pixels; holes via evenodd."""
    geom = shapely.transform(geom, _to_map(crs).transform, interleaved=False)
    minx, miny, maxx, maxy = bbox
    sx, sy = width / (maxx - minx), height / (maxy - miny)
    parts = []
    for polygon in getattr(geom, "geoms", [geom]):
        if polygon.geom_type != "Polygon":
            continue
        for ring in [polygon.exterior, *polygon.interiors]:
            pts = [f"{(x - minx) * sx:.1f},{(maxy - y) * sy:.1f}" for x, y in ring.coords]
            parts.append("M" + " L".join(pts) + " Z")
    return " ".join(parts)


def get_map(bbox: tuple[float, float, float, float], settings: dict[str, Any]) -> tuple[str | None, str | None]:
    """The plan layers as a PNG (base64) from the map service, or None and
    why not."""
    png, error = wms_get_map({"LAYERS": ",".join(settings["layers"]), "CRS": settings["crs"],
                              "BBOX": ",".join(f"{v:.3f}" for v in bbox), "WIDTH": settings["width"],
                              "HEIGHT": settings["height"]})
    return (base64.b64encode(png).decode("ascii") if png else None), error


def render_html(result: dict[str, Any], boundary: dict[str, Any], overlaps: dict[str, Any],
                map_settings: dict[str, Any], result_url: str | None = None) -> str:
    """The report as a self-contained HTML page (the map image inline)."""
    bbox, _ = map_frame(boundary, map_settings)
    width, height, crs = map_settings["width"], map_settings["height"], map_settings["crs"]
    image, error = get_map(bbox, map_settings)
    drawn = [o for o in overlaps["features"] if o["properties"]["verdict"] != "通过"]
    levels = sorted({o["properties"]["verdict"] for o in drawn}, key=list(VERDICT_COLORS).index)
    map_view = {
        "image": image, "error": error, "width": width, "height": height,
        "boundary": svg_path(shape(boundary), bbox, width, height, crs),
        "overlaps": [{"path": svg_path(shape(o["geometry"]), bbox, width, height, crs),
                      "color": VERDICT_COLORS.get(o["properties"]["verdict"], "#888")} for o in drawn],
        "legend": [(level, VERDICT_COLORS[level]) for level in levels],
        "caption": f"底图 / base map: WMS {', '.join(map_settings['layers'])} ({crs})" if image else "",
    }
    findings = []
    for finding in result["findings"]:
        skip = {"id", "overlap_m2", "overlap_mu", "overlap_ha", "share", "verdict", "distance_m", "plan_version"}
        columns = list(dict.fromkeys(k for f in finding["features"] for k in f if k not in skip))
        findings.append({**finding, "columns": columns})
    generated = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
    return _template().render(r={**result, "findings": findings}, map=map_view,
                              links={"result": result_url}, generated_at=generated)
