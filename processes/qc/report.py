"""The check's outputs for people and GIS: the report (HTML, printed to PDF
by processes.base.pdf_from_html) with an overview map and tables, and the
error layer (GeoPackage) to open beside the package."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from processes.qc.run import Finding, QcResult

MAP_WIDTH, MAP_HEIGHT = 760, 520
REPORT_ROWS = 2000       # findings tabulated in the report (all are in the error layer)
SEVERITY_ZH = {"error": "错误", "warning": "警告"}
COLOURS = {"error": "#d62728", "warning": "#ff7f0e"}


def _map_svg(result: QcResult) -> str:
    """Admin outlines (ST_AsSVG paths: x = lon, y = -lat) and a marker per
    listed finding that has a place, scaled by cos(latitude)."""
    if result.extent_bbox is None:
        return ""
    x0, y0, x1, y1 = result.extent_bbox
    kx = float(np.cos(np.radians((y0 + y1) / 2)))
    width, height = (x1 - x0) * kx, y1 - y0
    pad = 0.03 * max(width, height)
    view = f"{x0 * kx - pad} {-y1 - pad} {width + 2 * pad} {height + 2 * pad}"
    stroke = max(width, height) / 600
    outlines = "".join(f'<path d="{d}"/>' for d in result.extent_svg)
    marks = []
    radius = max(width, height) / 160
    for f in result.findings[:REPORT_ROWS]:
        if f.wkb is None:
            continue
        point = shapely.point_on_surface(shapely.from_wkb(f.wkb))
        marks.append(f'<circle cx="{point.x * kx}" cy="{-point.y}" r="{radius}" fill="{COLOURS[f.severity]}" '
                     f'fill-opacity="0.75"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view}" width="{MAP_WIDTH}" '
            f'height="{MAP_HEIGHT}" preserveAspectRatio="xMidYMid meet">'
            f'<g transform="scale({kx},1)" fill="#f4f1e8" stroke="#555" stroke-width="{stroke / kx}">'
            f'{outlines}</g>{"".join(marks)}</svg>')


def report_html(result: QcResult) -> str:
    s = result.summary()
    e = html.escape
    verdict_colour = "#2ca02c" if result.passed else "#d62728"
    rules = "".join(
        f"<tr><td>{e(r['rule'])}</td><td>{e(r['title_zh'])}<br><small>{e(r['title_en'])}</small></td>"
        f"<td class=nw>{SEVERITY_ZH[r['severity']]} {r['severity']}</td><td class=n>{r['count']}</td></tr>"
        for r in s["by_rule"])
    layers = "".join(f"<tr><td>{e(la['name'])}</td><td>{e(str(la['geometry'] or '表 table'))}</td>"
                     f"<td>{e(str(la['crs'] or '-'))}</td><td class=n>{la['features']}</td></tr>"
                     for la in s["layers"])
    rows = "".join(
        f"<tr><td>{e(f.rule)}</td><td class=nw>{SEVERITY_ZH[f.severity]}</td><td>{e(f.layer or '')}</td>"
        f"<td>{e(f.feature_id or '')}</td><td>{e(f.message_zh)}<br><small>{e(f.message_en)}</small></td></tr>"
        for f in result.findings[:REPORT_ROWS])
    more = ""
    total = sum(result.counts.values())
    if total > REPORT_ROWS:
        more = (f"<p>仅列出前 {REPORT_ROWS} 条，共 {total} 条，全部见错误图层。"
                f" / The first {REPORT_ROWS} of {total} findings; all are in the error layer.</p>")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>规划成果质检报告 / Plan package quality check report</title>
<style>
 body {{ font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; font-size: 10pt; margin: 0; color: #222; }}
 h1 {{ font-size: 18pt; margin-bottom: 0; }}
 h2 {{ font-size: 13pt; border-bottom: 1px solid #999; break-after: avoid; }}
 table {{ border-collapse: collapse; width: 100%; margin: 0.5em 0; }}
 tr {{ break-inside: avoid; }}
 td, th {{ border: 1px solid #bbb; padding: 3px 5px; vertical-align: top; text-align: left; }}
 th {{ background: #eee; }} td.n {{ text-align: right; }} small {{ color: #666; }}
 .nw {{ white-space: nowrap; }} .hash {{ word-break: break-all; }}
 svg {{ max-width: 100%; height: auto; }}
 .verdict {{ font-size: 16pt; font-weight: bold; color: {verdict_colour}; }}
 @page {{ size: A4; margin: 1.5cm; }}
</style></head><body>
<h1>规划成果质检报告</h1><p><small>Plan results package quality check report</small></p>
<p class=verdict>{s['verdict_zh']} / {s['verdict_en']}：错误 {s['errors']} 个，警告 {s['warnings']} 个
 <small>({s['errors']} errors, {s['warnings']} warnings)</small></p>
<table>
<tr><th>数据包 Package</th><td>{e(s['package'])}（{e(s['package_kind'])}）<br><small class=hash>SHA-256 {s['package_sha256']}</small></td></tr>
<tr><th>执行标准 Standard</th><td>{e(s['standard_title_zh'])}<br><small>{e(s['standard_title_en'])}</small></td></tr>
<tr><th>用时 Time</th><td>{s['seconds']} 秒 s</td></tr>
</table>
<h2>总览图 Overview map</h2>
<p><small>灰色为行政区，红点为错误，橙点为警告 / admin units in grey, errors red, warnings orange</small></p>
{_map_svg(result)}
<h2>图层 Layers</h2>
<table><thead><tr><th>图层 Layer</th><th>几何 Geometry</th><th>坐标系 CRS</th><th>要素数 Features</th></tr></thead>
{layers}</table>
<h2>规则汇总 Findings by rule</h2>
<table><thead><tr><th>规则 Rule</th><th>内容 What</th><th class=nw>级别 Severity</th><th>数量 Count</th></tr></thead>
{rules}</table>
<h2>问题清单 Findings</h2>{more}
<table><thead><tr><th>规则 Rule</th><th class=nw>级别</th><th>图层 Layer</th><th>要素 Feature</th><th>说明 Message</th></tr></thead>
{rows}</table>
</body></html>"""


def error_layer(result: QcResult, path: Path) -> Path:
    """The findings as a GeoPackage: one layer per kind of place (polygons,
    points, lines) and one table for findings without a place."""
    groups: dict[str, list[tuple[Finding, bytes | None]]] = {"polygon": [], "point": [], "line": [], "table": []}
    for f in result.findings:
        if f.wkb is None:
            groups["table"].append((f, None))
            continue
        geom = shapely.from_wkb(f.wkb)
        dim = shapely.get_dimensions(geom)
        if dim == 2:
            groups["polygon"].append((f, shapely.to_wkb(shapely.multipolygons(
                shapely.get_parts(geom)[shapely.get_dimensions(shapely.get_parts(geom)) == 2]))))
        elif dim == 1:
            groups["line"].append((f, shapely.to_wkb(geom)))
        else:
            groups["point"].append((f, shapely.to_wkb(shapely.point_on_surface(geom))))
    names = {"polygon": ("findings_polygon", "MultiPolygon"), "point": ("findings_point", "Point"),
             "line": ("findings_line", "Unknown"), "table": ("findings_table", None)}
    fields = ["rule", "severity", "layer", "feature_id", "other_layer", "other_feature_id",
              "message_zh", "message_en"]
    path.unlink(missing_ok=True)
    written = 0
    for kind, items in groups.items():
        if not items and kind != "table":
            continue
        layer, geometry_type = names[kind]
        data = [np.array([getattr(f, name) or "" for f, _ in items], dtype=object) for name in fields]
        geometry = np.array([w for _, w in items], dtype=object) if geometry_type else None
        pyogrio.raw.write(path, geometry=geometry, field_data=data, fields=fields, layer=layer, driver="GPKG",
                          geometry_type=geometry_type, crs="EPSG:4490" if geometry_type else None,
                          append=written > 0, layer_options={"IDENTIFIER": layer})
        written += 1
    return path
