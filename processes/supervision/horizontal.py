"""指标横向传导 horizontal transmission: the subordinate plans (detailed plans,
special plans) against the master plan in force — no construction land
inside the ecological red line or the permanent basic farmland, and per
admin unit the plan's totals of a class of land within the master plan's on
the same ground. Which plans and which checks is data
(config/indicators/horizontal.yaml); each check is one SQL statement over
the features in force, areas on the CGCS2000 ellipsoid.

The answer is a tree as the vertical check's: a node per plan, per check
and per unit (or offending feature), each with a status and the numbers
behind it, as JSON and as a Chinese PDF report.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.inforce import in_force
from onemap.core.registry import Layer, Text, load_layers
from onemap.core.settings import load_yaml
from processes.supervision.catalogue import CatalogueError, indicators_dir
from processes.supervision.transmission import STATUS

KINDS = ("outside", "total")
DIRECTIONS = ("at_most", "at_least")
RELATIVE_TOLERANCE = 1e-6   # sums of ellipsoidal areas of the same ground
# the overlap of two polygons, short-cut when one covers the other (a plot
# that is a whole master-plan cell)
_OVERLAP = """CASE WHEN ST_CoveredBy(p.geom, g.geom) THEN p.geom WHEN ST_CoveredBy(g.geom, p.geom) THEN g.geom
                   ELSE ST_CollectionExtract(ST_Intersection(p.geom, g.geom), 3) END"""


@dataclass(frozen=True)
class ClassGroup:
    id: str
    name: Text
    prefixes: tuple[str, ...]

    def patterns(self) -> list[str]:
        return [p + "%" for p in self.prefixes]


@dataclass(frozen=True)
class Check:
    kind: str
    classes: ClassGroup
    layer: Layer | None = None        # outside: the control line
    direction: str = "at_most"        # total
    tolerance_m2: float = 1.0


@dataclass(frozen=True)
class Plan:
    layer: Layer
    field: str
    unit_field: str | None       # the admin unit field: needed by `total` checks only
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Horizontal:
    master: Layer
    master_field: str
    plans: tuple[Plan, ...]


def _field(layer: Layer, name: Any, where: str) -> str:
    # field names end up in SQL: only the key fields the registry lists
    if name not in layer.key_fields:
        raise CatalogueError(f"{where}: field {name} is not a key field of layer {layer.id}")
    return str(name)


def load(directory: Path | None = None) -> Horizontal:
    """config/indicators/horizontal.yaml as typed data, every reference checked."""
    path = indicators_dir(directory) / "horizontal.yaml"
    data = load_yaml(path)
    layers = {layer.id: layer for layer in load_layers((directory or path.parent.parent) / "layers.yaml")}
    try:
        groups = {key: ClassGroup(key, Text(**g["name"]), tuple(str(p) for p in g["prefixes"]))
                  for key, g in data["classes"].items()}

        def layer(name: Any, where: str) -> Layer:
            if name not in layers:
                raise CatalogueError(f"{path.name} {where}: layer {name} is not in config/layers.yaml")
            return layers[name]

        master = layer(data["master"]["layer"], "master")
        plans = []
        for entry in data["plans"]:
            plan_layer = layer(entry["layer"], "plans")
            where = f"{path.name} plan {plan_layer.id}"
            checks = []
            for c in entry["checks"]:
                if c["kind"] not in KINDS or c["classes"] not in groups:
                    raise CatalogueError(f"{where}: a check needs kind {KINDS} and classes {sorted(groups)}")
                if c.get("direction", "at_most") not in DIRECTIONS:
                    raise CatalogueError(f"{where}: direction must be one of {DIRECTIONS}")
                checks.append(Check(c["kind"], groups[c["classes"]],
                                    layer(c["layer"], where) if c["kind"] == "outside" else None,
                                    c.get("direction", "at_most"), float(c.get("tolerance_m2", 1.0))))
            unit = entry.get("unit_field")
            if unit is None and any(c.kind == "total" for c in checks):
                raise CatalogueError(f"{where}: a total check needs unit_field (the admin unit code field)")
            plans.append(Plan(plan_layer, _field(plan_layer, entry["field"], where),
                              None if unit is None else _field(plan_layer, unit, where), tuple(checks)))
        return Horizontal(master, _field(master, data["master"]["field"], "master"), tuple(plans))
    except (KeyError, TypeError) as exc:
        raise CatalogueError(f"{path.name}: missing or bad entry {exc}") from exc


load_config = cache(load)


def check_config(directory: Path) -> None:
    """配置校验 (config/components.yaml's config_checks)."""
    load(directory)


def _status(ok: bool | None) -> dict[str, str]:
    return dict(zip(("zh", "en"), STATUS[ok], strict=True))


def _table(layer: Layer) -> sql.Composable:
    return sql.Identifier(layer.schema, layer.table_name)


def _outside(conn: psycopg.Connection, plan: Plan, check: Check) -> dict[str, Any]:
    """Features of the classes inside a control line, with their areas there."""
    assert check.layer is not None
    rows = conn.execute(sql.SQL("""
        SELECT p.id, p.{key}::text, p.{field}::text, {unit}::text,
               sum(ST_Area(ST_CollectionExtract(ST_Intersection(p.geom, g.geom), 3)::geography))
        FROM {plan} p JOIN {line} g ON ST_Intersects(p.geom, g.geom)
        WHERE {p_in_force} AND {g_in_force} AND p.{field}::text LIKE ANY(%s)
        GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC""").format(
        key=sql.Identifier(plan.layer.key_fields[0]), field=sql.Identifier(plan.field),
        unit=sql.SQL("NULL") if plan.unit_field is None else sql.SQL("p.{}").format(sql.Identifier(plan.unit_field)),
        plan=_table(plan.layer), line=_table(check.layer),
        p_in_force=sql.SQL(in_force(alias="p")), g_in_force=sql.SQL(in_force(alias="g"))),
        (check.classes.patterns(),)).fetchall()
    found = [{"id": r[0], "code": r[1], "ydyhdm": r[2], "xzqdm": r[3], "area_m2": round(float(r[4]), 2)}
             for r in rows if float(r[4]) > check.tolerance_m2]
    area = round(sum(f["area_m2"] for f in found), 2)
    return {"kind": "outside", "layer": check.layer.id, "classes": check.classes.id,
            "name": {"zh": f"{check.layer.title.zh}内无{check.classes.name.zh}",
                     "en": f"No {check.classes.name.en.lower()} in the {check.layer.title.en.lower()}"},
            "status": _status(not found), "area_m2": area, "count": len(found), "features": found,
            "children": []}


def _total(conn: psycopg.Connection, plan: Plan, check: Check, master: Layer, master_field: str
           ) -> dict[str, Any]:
    """Per unit: the plan's area of the classes and the master plan's on the
    ground the plan covers."""
    rows = conn.execute(sql.SQL("""
        WITH p AS MATERIALIZED (SELECT {unit}::text AS unit, {field}::text AS code, geom FROM {plan} p
                                WHERE {p_in_force}),
        plan_area AS (SELECT unit, sum(ST_Area(geom::geography)) AS m2 FROM p WHERE code LIKE ANY(%(c)s)
                      GROUP BY unit),
        master_area AS (
            SELECT p.unit, sum(ST_Area(({overlap})::geography)) AS m2
            FROM p JOIN {master} g ON ST_Intersects(p.geom, g.geom) AND NOT ST_Touches(p.geom, g.geom)
            WHERE {g_in_force} AND g.{master_field}::text LIKE ANY(%(c)s) GROUP BY p.unit)
        SELECT u.unit, x.xzqmc, coalesce(a.m2, 0), coalesce(m.m2, 0)
        FROM (SELECT DISTINCT unit FROM p) u LEFT JOIN plan_area a USING (unit)
        LEFT JOIN master_area m USING (unit) LEFT JOIN base.xzq x ON x.xzqdm = u.unit
        ORDER BY u.unit""").format(
        unit=sql.Identifier(plan.unit_field), field=sql.Identifier(plan.field), plan=_table(plan.layer),
        p_in_force=sql.SQL(in_force(alias="p")), overlap=sql.SQL(_OVERLAP), master=_table(master),
        g_in_force=sql.SQL(in_force(alias="g")), master_field=sql.Identifier(master_field)),
        {"c": check.classes.patterns()}).fetchall()
    units = []
    for unit, name, planned, allowed in rows:
        planned, allowed = float(planned), float(allowed)
        slack = max(check.tolerance_m2, allowed * RELATIVE_TOLERANCE)
        ok = planned <= allowed + slack if check.direction == "at_most" else planned >= allowed - slack
        units.append({"xzqdm": unit, "xzqmc": name or unit, "name": {"zh": name or unit, "en": unit},
                      "plan_m2": round(planned, 2), "master_m2": round(allowed, 2),
                      "difference_m2": round(planned - allowed, 2) + 0.0, "status": _status(ok), "children": []})
    bad = [u for u in units if u["status"]["en"] == "violation"]
    need = ("不超过", "within") if check.direction == "at_most" else ("不少于", "at least")
    return {"kind": "total", "classes": check.classes.id, "direction": check.direction,
            "name": {"zh": f"{check.classes.name.zh}面积{need[0]}总体规划",
                     "en": f"{check.classes.name.en} {need[1]} the master plan's"},
            "status": _status(not bad), "plan_m2": round(sum(u["plan_m2"] for u in units), 2),
            "master_m2": round(sum(u["master_m2"] for u in units), 2), "count": len(bad), "children": units}


def check(conn: psycopg.Connection, config: Horizontal | None = None) -> dict[str, Any]:
    """The horizontal tree: a node per subordinate plan, under it a node per
    check (totals with a node per unit)."""
    config = config or load_config()
    plans = []
    for plan in config.plans:
        nodes = [_outside(conn, plan, c) if c.kind == "outside"
                 else _total(conn, plan, c, config.master, config.master_field) for c in plan.checks]
        ok = all(n["status"]["en"] == "pass" for n in nodes)
        plans.append({"layer": plan.layer.id, "name": plan.layer.title.as_dict(), "status": _status(ok),
                      "children": nodes})
    violations = sum(1 for p in plans for n in p["children"] if n["status"]["en"] == "violation")
    return {"check": "horizontal", "master": config.master.id, "violations": violations,
            "status": STATUS[not violations][0], "tree": plans}


def run(database_url: str, principal: Principal) -> dict[str, Any]:
    """The check, audited."""
    with psycopg.connect(database_url) as conn:
        result = check(conn)
        audit.record(conn, principal, "indicators.transmission", "horizontal", 200,
                     detail={"violations": result["violations"]})
    return result


def report_html(result: dict[str, Any]) -> str:
    """The tree as a Chinese report page (English beside the headings)."""

    def num(v: float | None) -> str:
        return "—" if v is None else f"{v:,.2f}"

    rows = []
    for plan in result["tree"]:
        rows.append(f"<tr class='plan'><td colspan='4'>{html.escape(plan['name']['zh'])}（{plan['layer']}）</td>"
                    f"<td>{plan['status']['zh']}</td></tr>")
        for node in plan["children"]:
            cls = ' class="bad"' if node["status"]["en"] == "violation" else ""
            if node["kind"] == "outside":
                numbers = f"<td>{num(node['area_m2'])}</td><td>—</td><td>{node['count']}</td>"
            else:
                numbers = f"<td>{num(node['plan_m2'])}</td><td>{num(node['master_m2'])}</td><td>{node['count']}</td>"
            rows.append(f"<tr{cls}><td style='padding-left:1.5em'>{html.escape(node['name']['zh'])}</td>{numbers}"
                        f"<td>{node['status']['zh']}</td></tr>")
            for item in node.get("features", []):
                rows.append(f"<tr class='bad'><td style='padding-left:3em'>{html.escape(item['code'])}"
                            f"（{item['ydyhdm']}，{item['xzqdm']}）</td><td>{num(item['area_m2'])}</td><td>—</td>"
                            f"<td></td><td>不合格</td></tr>")
            for unit in node["children"]:
                ucls = ' class="bad"' if unit["status"]["en"] == "violation" else ""
                rows.append(f"<tr{ucls}><td style='padding-left:3em'>{html.escape(unit['xzqmc'])}（{unit['xzqdm']}）"
                            f"</td><td>{num(unit['plan_m2'])}</td><td>{num(unit['master_m2'])}</td><td></td>"
                            f"<td>{unit['status']['zh']}</td></tr>")
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>横向传导检查报告</title><style>
body {{ font-size: 10pt; }} table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #999; padding: 2px 4px; text-align: right; }} td:first-child {{ text-align: left; }}
tr.bad td {{ background: #fde0dc; }} tr.plan td {{ background: #eef3f8; }}
</style></head><body>
<h1>横向传导检查报告 <small>Horizontal transmission report</small></h1>
<p>下位规划（详细规划、专项规划）与现行总体规划（{result['master']}）的一致性：生态保护红线、永久基本农田内不得有建设用地；
各行政区内下位规划的分类面积应符合总体规划同一范围内的面积。面积为 CGCS2000 椭球面积（平方米）。</p>
<p>结论 Result：<b>{result['status']}</b>，不合格检查项 violations：{result['violations']}</p>
<table><tr><th>检查项 Check</th><th>下位规划面积/占用面积 Plan m²</th><th>总体规划面积 Master m²</th>
<th>不合格数 Count</th><th>状态 Status</th></tr>
{''.join(rows)}</table>
</body></html>"""
