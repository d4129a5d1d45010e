"""定期评估 periodic evaluation (城市体检): every indicator of a system for the
city in a year — value, the previous years, trend, target and level — and
the annual report as a Chinese PDF with a chart per indicator (matplotlib)
and, for the indicators the system names under `maps`, a choropleth of the
townships by warning level drawn by the map service (the ZBJC layer in its
indicator-level style, a WMS GetMap to MapServer at the year's end).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import psycopg

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import invalid
from onemap.core.settings import ROOT, load_yaml
from processes.base import CJK_FONT, pdf_from_html, wms_get_map
from processes.supervision.catalogue import load_systems
from processes.supervision.warning import load_rules, target_level

LEVEL_ZH = {"green": "绿色", "yellow": "黄色", "red": "红色", None: "—"}
LEVEL_STYLE = ROOT / "styles" / "indicator-level.yaml"  # the ZBJC layer's style: the legend's colours
MAP_LAYER, MAP_CRS, MAP_WIDTH, MAP_HEIGHT = "ZBJC", "EPSG:3857", 900, 640


def evaluate(conn: psycopg.Connection, system: str, year: int) -> dict[str, Any]:
    """The system's indicators for the city in `year`, with their series."""
    city = conn.execute("SELECT xzqdm, xzqmc FROM base.xzq WHERE xzqjb = '市'").fetchone()
    members = conn.execute(
        "SELECT m.system_zh, m.dimension, i.code, i.name_zh, i.unit, i.type, i.direction "
        "FROM supervision.indicator_member m JOIN supervision.indicator i USING (code) "
        "WHERE m.system = %s ORDER BY m.position", (system,)).fetchall()
    if not members:
        raise invalid("system", f"指标体系 {system} 不存在", f"No indicator system {system}", 404)
    rules = load_rules()
    items = []
    for system_zh, dimension, code, name, unit, type_, direction in members:
        series = conn.execute("SELECT period, value FROM supervision.indicator_value WHERE code = %s AND xzqdm = %s "
                              "AND period <= %s ORDER BY period", (code, city[0], year)).fetchall()
        target = conn.execute("SELECT target_year, value FROM supervision.indicator_target WHERE code = %s "
                              "AND xzqdm = %s AND target_year >= %s ORDER BY target_year LIMIT 1",
                              (code, city[0], year)).fetchone()
        value = series[-1][1] if series and series[-1][0] == year else None
        level = None
        if value is not None and target and direction != "range":
            margin = float(rules["rules"][rules["by_type"][type_]]["yellow_margin_pct"])
            level = target_level(value, target[1], direction, margin)[0]
        previous = series[-2][1] if value is not None and len(series) > 1 else None
        items.append({"system_zh": system_zh, "dimension": dimension, "code": code, "name_zh": name, "unit": unit,
                      "type": type_, "direction": direction, "value": value,
                      "series": [{"period": p, "value": v} for p, v in series],
                      "change": None if previous is None else value - previous,
                      "target_year": target[0] if target else None, "target": target[1] if target else None,
                      "level": level})
    warnings = dict(conn.execute("SELECT level, count(*) FROM supervision.warning WHERE period = %s "
                                 "AND state <> 'closed' GROUP BY level", (year,)).fetchall())
    mapped = next((s.maps for s in load_systems() if s.id == system), ())
    return {"system": system, "system_zh": members[0][0], "year": year, "unit": {"xzqdm": city[0], "xzqmc": city[1]},
            "indicators": items, "open_warnings": {"red": warnings.get("red", 0), "yellow": warnings.get("yellow", 0)},
            "monitored": sum(1 for i in items if i["value"] is not None),
            "maps": [map_frame(conn, i["code"], i["name_zh"], year) for i in items if i["code"] in mapped]}


def map_frame(conn: psycopg.Connection, code: str, name: str, year: int) -> dict[str, Any]:
    """What a township map of an indicator shows: the ZBJC features of the
    indicator, year and township level, over the city's extent (with a
    margin, at the image's aspect ratio) in MAP_CRS."""
    minx, miny, maxx, maxy = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(ST_Transform(geom, %s)) e "
        "FROM base.xzq WHERE xzqjb = '市') s", (int(MAP_CRS.split(":")[1]),)).fetchone()
    w, h = (maxx - minx) * 1.04, (maxy - miny) * 1.04
    w, h = max(w, h * MAP_WIDTH / MAP_HEIGHT), max(h, w * MAP_HEIGHT / MAP_WIDTH)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    equal = "<PropertyIsEqualTo><PropertyName>{}</PropertyName><Literal>{}</Literal></PropertyIsEqualTo>"
    conditions = "".join(equal.format(k, html.escape(str(v))) for k, v in
                         (("zbbm", code), ("jcnd", year), ("xzqjb", "乡")))
    return {"code": code, "name_zh": name, "layer": MAP_LAYER, "crs": MAP_CRS, "width": MAP_WIDTH,
            "height": MAP_HEIGHT, "bbox": [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2],
            "at": f"{year}-12-31", "filter": f"<Filter><And>{conditions}</And></Filter>"}


def map_png(frame: dict[str, Any]) -> tuple[bytes | None, str | None]:
    return wms_get_map({"LAYERS": frame["layer"], "CRS": frame["crs"], "WIDTH": frame["width"],
                        "HEIGHT": frame["height"], "BBOX": ",".join(f"{v:.1f}" for v in frame["bbox"]),
                        "AT": frame["at"], "FILTER": frame["filter"]})


def level_legend() -> list[tuple[str, str]]:
    """(colour, 中文 label) of each level, as the map service draws them."""
    return [(rule["symbol"]["fill"], rule["title"]["zh"]) for rule in load_yaml(LEVEL_STYLE)["rules"]]


def chart_png(item: dict[str, Any]) -> bytes:
    """The indicator's yearly values and its target as a small line chart."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    pyplot.rcParams["font.family"] = [CJK_FONT, "Noto Sans CJK JP", "DejaVu Sans"]
    figure, axes = pyplot.subplots(figsize=(4.2, 2.2), dpi=110)
    years = [s["period"] for s in item["series"]]
    axes.plot(years, [s["value"] for s in item["series"]], marker="o", color="#1f5fa8", label="监测值")
    if item["target"] is not None:
        axes.axhline(item["target"], color="#c0392b", linestyle="--", label=f"{item['target_year']} 目标")
    axes.set_title(f"{item['name_zh']}（{item['unit']}）", fontsize=9)
    axes.tick_params(labelsize=7)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    pyplot.close(figure)
    return out.getvalue()


def report_html(result: dict[str, Any]) -> str:
    def num(v: float | None) -> str:
        return "—" if v is None else f"{v:,.4f}"

    rows, charts = [], []
    for item in result["indicators"]:
        rows.append(f"<tr><td>{html.escape(item['dimension'])}</td><td>{item['code']}</td>"
                    f"<td>{html.escape(item['name_zh'])}</td><td>{html.escape(item['unit'])}</td><td>{item['type']}</td>"
                    f"<td>{num(item['value'])}</td><td>{num(item['change'])}</td><td>{num(item['target'])}</td>"
                    f"<td>{LEVEL_ZH[item['level']]}</td></tr>")
        if len(item["series"]) > 0:
            png = base64.b64encode(chart_png(item)).decode("ascii")
            charts.append(f'<img src="data:image/png;base64,{png}" style="width:48%">')
    legend = "".join(f'<li><i style="background:{colour}"></i>{html.escape(label)}</li>'
                     for colour, label in level_legend())
    maps = []
    for frame in result["maps"]:
        png, error = map_png(frame)
        image = (f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="地图">' if png
                 else f"<p>地图暂不可用 Map unavailable: {html.escape(error or '')}</p>")
        maps.append(f'<figure><figcaption>{frame["code"]} {html.escape(frame["name_zh"])}：{result["year"]} 年各乡镇'
                    f'预警等级 Warning level by township</figcaption>{image}<div class="legend"><b>图例</b>'
                    f'<ul>{legend}</ul></div><small>地图 / map: WMS {frame["layer"]} ({frame["crs"]})</small></figure>')
    warnings = result["open_warnings"]
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{result['year']} 年度实施评估报告</title><style>
body {{ font-size: 9.5pt; }} table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #999; padding: 2px 4px; }}
figure {{ margin: 0 0 4mm; page-break-inside: avoid; }} figure img {{ width: 100%; border: 1px solid #333; }}
.legend ul {{ list-style: none; margin: 0; padding: 0; display: inline; }} .legend li {{ display: inline; margin-left: 4mm; }}
.legend i {{ display: inline-block; width: 4mm; height: 3mm; margin-right: 1mm; border: 1px solid #999; }}
</style></head><body>
<h1>{html.escape(result['unit']['xzqmc'])} {result['year']} 年度国土空间规划实施评估报告
<small>Annual implementation evaluation</small></h1>
<p>指标体系 System：{html.escape(result['system_zh'])}；有监测值的指标 indicators monitored：{result['monitored']} /
{len(result['indicators'])}；未关闭预警 open warnings：红色 red {warnings['red']}，黄色 yellow {warnings['yellow']}。</p>
<table><tr><th>维度</th><th>编码</th><th>指标 Indicator</th><th>单位</th><th>类型</th><th>{result['year']} 年值</th>
<th>较上年 Change</th><th>目标 Target</th><th>级别 Level</th></tr>{''.join(rows)}</table>
<h2>指标趋势 Trends</h2>{''.join(charts)}
{'<h2>分乡镇专题图 Maps by township</h2>' + ''.join(maps) if maps else ''}
</body></html>"""


def run(database_url: str, system: str, year: int, principal: Principal) -> tuple[dict[str, Any], bytes]:
    """The evaluation and its PDF report, audited."""
    with psycopg.connect(database_url) as conn:
        result = evaluate(conn, system, year)
        pdf = pdf_from_html(report_html(result))
        audit.record(conn, principal, "indicators.evaluation", f"{system}/{year}", 200,
                     output_sha256=audit.sha256_hex(pdf), detail={"monitored": result["monitored"]})
    return result, pdf
