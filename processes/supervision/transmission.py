"""指标传导 vertical transmission: the city's target of an indicator is
allocated to its counties and they to their townships (分解下达). Every node
of the tree is checked twice: its children's allocations add up as the
indicator's direction requires (protection: sum ≥ target; construction:
sum ≤ target), and its monitored value meets its own allocation. The tree
comes as JSON and as a Chinese PDF report.
"""

from __future__ import annotations

import html
from typing import Any

import psycopg

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import invalid

STATUS = {True: ("合格", "pass"), False: ("不合格", "violation"), None: ("无数据", "no data")}
RELATIVE_TOLERANCE = 1e-9  # sums of floating allocations


def _meets(value: float, target: float, direction: str) -> bool:
    slack = abs(target) * RELATIVE_TOLERANCE
    return value >= target - slack if direction == "higher" else value <= target + slack


def check(conn: psycopg.Connection, code: str, target_year: int, period: int) -> dict[str, Any]:
    """The transmission tree of an indicator for a target year, with the
    values monitored in `period`."""
    row = conn.execute("SELECT name_zh, name_en, unit, direction FROM supervision.indicator WHERE code = %s",
                       (code,)).fetchone()
    if row is None:
        raise invalid("indicator", f"指标 {code} 不存在", f"No indicator {code}", 404)
    name_zh, name_en, unit, direction = row
    if direction == "range":
        raise invalid("indicator", f"指标 {code} 为区间型，没有分解下达", f"Indicator {code} is a range: not allocated")
    units = conn.execute("""
        SELECT u.xzqdm, u.xzqmc, u.xzqjb, u.sjxzqdm, t.value, v.value
        FROM base.xzq u
        LEFT JOIN supervision.indicator_target t ON t.xzqdm = u.xzqdm AND t.code = %(c)s AND t.target_year = %(y)s
        LEFT JOIN supervision.indicator_value v ON v.xzqdm = u.xzqdm AND v.code = %(c)s AND v.period = %(p)s
        ORDER BY u.xzqdm""", {"c": code, "y": target_year, "p": period}).fetchall()
    nodes = {x: {"xzqdm": x, "xzqmc": name, "level": level, "target": target, "value": value, "children": []}
             for x, name, level, _, target, value in units}
    roots = []
    for x, _, _, parent, _, _ in units:
        (nodes[parent]["children"] if parent in nodes else roots).append(nodes[x])
    for root in roots:
        judge(root, direction)
    violations = [n for n in _walk(roots) if n["status"]["en"] == "violation"]
    return {"indicator": {"code": code, "name_zh": name_zh, "name_en": name_en, "unit": unit,
                          "direction": direction},
            "target_year": target_year, "period": period, "violations": len(violations),
            "status": STATUS[not violations][0],
            "tree": roots}


def judge(node: dict[str, Any], direction: str) -> None:
    """The two checks of a node and its status (violation if either fails)."""
    for child in node["children"]:
        judge(child, direction)
    allocated = [c["target"] for c in node["children"]]
    node["children_sum"] = sum(allocated) if allocated and None not in allocated else None
    node["allocation_ok"] = (None if node["children_sum"] is None or node["target"] is None
                             else _meets(node["children_sum"], node["target"], direction))
    node["value_ok"] = (None if node["value"] is None or node["target"] is None
                        else _meets(node["value"], node["target"], direction))
    checks = [c for c in (node["allocation_ok"], node["value_ok"]) if c is not None]
    ok = None if not checks else all(checks)
    node["status"] = dict(zip(("zh", "en"), STATUS[ok], strict=True))


def _walk(nodes: list[dict[str, Any]]):
    for node in nodes:
        yield node
        yield from _walk(node["children"])


def run(database_url: str, code: str, target_year: int, period: int, principal: Principal) -> dict[str, Any]:
    """The check, audited."""
    with psycopg.connect(database_url) as conn:
        result = check(conn, code, target_year, period)
        audit.record(conn, principal, "indicators.transmission", f"{code}/{target_year}", 200,
                     detail={"period": period, "violations": result["violations"]})
    return result


def report_html(result: dict[str, Any]) -> str:
    """The tree as a Chinese report page (English beside the headings)."""
    ind = result["indicator"]
    need = "不低于 / at least" if ind["direction"] == "higher" else "不高于 / at most"

    def num(v: float | None) -> str:
        return "—" if v is None else f"{v:,.4f}"

    def mark(ok: bool | None) -> str:
        return {True: "✓", False: "✗ 不合格", None: "—"}[ok]

    rows = []
    for node in _walk(result["tree"]):
        indent = {"市": 0, "县": 1, "乡": 2}[node["level"]] * 1.5
        cls = ' class="bad"' if node["status"]["en"] == "violation" else ""
        rows.append(
            f"<tr{cls}><td style='padding-left:{indent}em'>{html.escape(node['xzqmc'])}（{node['xzqdm']}）</td>"
            f"<td>{num(node['target'])}</td><td>{num(node['children_sum'])}</td><td>{mark(node['allocation_ok'])}</td>"
            f"<td>{num(node['value'])}</td><td>{mark(node['value_ok'])}</td><td>{node['status']['zh']}</td></tr>")
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>指标传导检查报告</title><style>
body {{ font-size: 10pt; }} table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #999; padding: 2px 4px; text-align: right; }} td:first-child {{ text-align: left; }}
tr.bad td {{ background: #fde0dc; }}
</style></head><body>
<h1>指标传导检查报告 <small>Indicator transmission report</small></h1>
<p>指标 Indicator：{html.escape(ind['name_zh'])}（{ind['code']}，{html.escape(ind['unit'])}），目标年 target year
{result['target_year']}，监测年度 period {result['period']}。下级分解之和应{need}上级目标；各单位监测值应{need}其分解值。</p>
<p>结论 Result：<b>{result['status']}</b>，不合格节点 violations：{result['violations']}</p>
<table><tr><th>行政区 Unit</th><th>目标/分解 Target</th><th>下级分解之和 Sum below</th><th>分解检查</th>
<th>监测值 Value</th><th>达标检查</th><th>状态 Status</th></tr>
{''.join(rows)}</table>
</body></html>"""
