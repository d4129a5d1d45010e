"""查询统计 area statistics: areas of a layer (a plan version of it, or the
state at a time) by land-use class and admin unit, inside an admin unit or
a drawn boundary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import sql

from onemap.core.db import connect
from onemap.core.errors import invalid
from onemap.core.inforce import in_force
from onemap.core.landuse import DIGITS, names_zh
from processes.analysis.areas import (
    EVERYWHERE,
    Region,
    approximate,
    area_rows,
    class_code,
    polygon_layer,
    totals,
    with_units,
)


def version_filter(layer: Any, version: str | None, at: dt.datetime | None) -> tuple[sql.Composable, list[Any]]:
    """Which features of a layer: a plan version, the state at a time, or
    (default) the plan in force; layers without versions: all."""
    if not layer.versioned:
        if version or at:
            raise invalid("version", f"图层 {layer.id} 没有版本", f"Layer {layer.id} has no versions")
        return sql.SQL("TRUE"), []
    if version:
        return sql.SQL("plan_version = %s"), [version]
    if at:
        return sql.SQL(in_force("%s")), [at, at]
    return sql.SQL(in_force()), []


def feature_query(conn: Any, layer_id: str, version: str | None = None, at: dt.datetime | None = None,
                  digits: int = 4) -> tuple[sql.Composable, list[Any]]:
    """id, code (the planning class cut to `digits`, through the crosswalk
    for a survey-coded layer; the layer id for layers without classes),
    approx, geom of the chosen features."""
    layer = polygon_layer(layer_id)
    if version and not conn.execute("SELECT 1 FROM plan.plan_version WHERE plan_version = %s",
                                    (version,)).fetchone():
        raise invalid("version", f"规划版本 {version} 不存在", f"No plan version {version}", 404)
    where, params = version_filter(layer, version, at)
    code, approx = class_code(conn, layer, digits)
    return sql.SQL("SELECT t.id, {code} AS code, {approx} AS approx, t.geom FROM {t} t WHERE {where}").format(
        code=code, approx=approx, t=sql.Identifier(layer.schema, layer.table_name), where=where), params


def area_statistics(database_url: str, layer: str = "GHYDYH", version: str | None = None,
                    at: dt.datetime | None = None, region: Region = EVERYWHERE, level: str = "乡",
                    digits: int = 4) -> dict[str, Any]:
    if digits not in DIGITS.values():
        raise invalid("class_level", "分类级别应为 1（两位代码）、2（四位代码）或 3（六位代码）", "The class level must be 1 (2-digit codes), 2 (4-digit codes) or 3 (6-digit codes)")
    with connect(database_url) as conn:
        features, params = feature_query(conn, layer, version, at, digits)
        rows = area_rows(conn, features, params, region, level)
    names = names_zh()
    approx = approximate(rows)
    by_class = totals(rows, "code")
    by_unit = totals(rows, "xzqdm")
    unit_names = {r["xzqdm"]: r["xzqmc"] for r in rows}
    total = sum(by_class.values())
    return {
        "layer": layer, "version": version, "datetime": at.isoformat() if at else None,
        "region": {"xzqdm": region.xzqdm, "boundary": region.boundary}, "level": level,
        "rows": [with_units(r, names) for r in rows],
        "by_class": [with_units({"code": c, "area_m2": a, "share": round(a / total, 6) if total else 0,
                                 "approx": c in approx}, names)
                     for c, a in sorted(by_class.items())],
        "by_unit": [with_units({"xzqdm": u, "xzqmc": unit_names[u], "area_m2": a}, {})
                    for u, a in sorted(by_unit.items())],
        "total": with_units({"area_m2": total}, {}),
    }
