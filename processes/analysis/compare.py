"""对比分析 layer comparison: what changed between two plan versions of a
layer (features matched by their key, e.g. BSM: added, removed, changed in
class or shape), or between two layers (e.g. current land use DLTB and
planned land use GHYDYH: the pieces where their classes differ); with the area change by land-use class and by
admin unit. Classes are planning classes: a survey-coded layer (DLTB) is
mapped through the crosswalk, and a class some of whose area maps only
approximately says so (`approx`)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from onemap.core.db import connect
from onemap.core.errors import invalid
from onemap.core.landuse import names_zh
from processes.analysis.areas import (
    EVERYWHERE,
    Region,
    approximate,
    area_rows,
    class_code,
    class_column,
    polygon_layer,
    totals,
    with_units,
)
from processes.analysis.statistics import feature_query

SHAPE_TOLERANCE_M2 = 1.0   # a shape changed when it differs by more than this
LISTED = 1000              # changed features listed with their geometry


def _diff(conn: Any, layer_id: str, a: str, b: str, digits: int) -> tuple[dict[str, Any], sql.Composable,
                                                                         list[Any], sql.Composable, list[Any]]:
    """Added, removed and changed features of a layer between versions a
    and b; and the queries of the features that differ on each side."""
    layer = polygon_layer(layer_id)
    if not layer.versioned:
        raise invalid("layer", f"图层 {layer_id} 没有版本", f"Layer {layer_id} has no versions")
    for version in (a, b):
        if not conn.execute("SELECT 1 FROM plan.plan_version WHERE plan_version = %s", (version,)).fetchone():
            raise invalid("version", f"规划版本 {version} 不存在", f"No plan version {version}", 404)
    key = sql.Identifier(layer.key_fields[0])
    code = class_column(conn, layer)
    code_sql = sql.Identifier(code) if code else sql.Literal(layer.id)
    table = sql.Identifier(layer.schema, layer.table_name)
    conn.execute(sql.SQL("""
        CREATE TEMP TABLE diff ON COMMIT DROP AS
        SELECT coalesce(x.{key}, y.{key}) AS key, x.id AS id_a, y.id AS id_b,
               x.{code} AS code_a, y.{code} AS code_b,
               CASE WHEN x.id IS NULL THEN 'added' WHEN y.id IS NULL THEN 'removed'
                    WHEN x.{code} IS DISTINCT FROM y.{code} THEN 'class'
                    WHEN NOT ST_OrderingEquals(x.geom, y.geom)
                         AND ST_Area(ST_SymDifference(x.geom, y.geom)::geography) > {tol} THEN 'shape'
               END AS change
        FROM (SELECT * FROM {t} WHERE plan_version = %s) x
        FULL JOIN (SELECT * FROM {t} WHERE plan_version = %s) y ON x.{key} = y.{key}""").format(
        key=key, code=code_sql, t=table, tol=sql.Literal(SHAPE_TOLERANCE_M2)), (a, b))
    counts = dict(conn.execute("SELECT change, count(*) FROM diff WHERE change IS NOT NULL GROUP BY 1").fetchall())
    listed = conn.execute(sql.SQL("""
        SELECT d.key, d.change, d.code_a, d.code_b, d.id_a, d.id_b,
               ST_AsGeoJSON(coalesce(y.geom, x.geom), 8)::json
        FROM diff d LEFT JOIN {t} x ON x.id = d.id_a LEFT JOIN {t} y ON y.id = d.id_b
        WHERE d.change IS NOT NULL ORDER BY d.change, d.key LIMIT %s""").format(t=table), (LISTED,)).fetchall()
    side_code, approx = class_code(conn, layer, digits)
    side = sql.SQL("SELECT t.id, {code} AS code, {approx} AS approx, t.geom FROM {t} t JOIN diff d ON d.{id} = t.id "
                   "WHERE d.change IS NOT NULL")
    a_query = side.format(code=side_code, approx=approx, t=table, id=sql.Identifier("id_a"))
    b_query = side.format(code=side_code, approx=approx, t=table, id=sql.Identifier("id_b"))
    changes = {
        "added": counts.get("added", 0), "removed": counts.get("removed", 0),
        "changed": counts.get("class", 0) + counts.get("shape", 0),
        "changed_class": counts.get("class", 0), "changed_shape": counts.get("shape", 0),
        "features": [{"key": k, "change": c, "code_from": ca, "code_to": cb, "id_from": ia, "id_to": ib,
                      "geometry": g} for k, c, ca, cb, ia, ib, g in listed],
        "truncated": sum(counts.values()) > LISTED,
    }
    return changes, a_query, [], b_query, []


def _overlay(conn: Any, a_query: sql.Composable, a_params: list[Any], b_query: sql.Composable,
             b_params: list[Any], region: Region) -> dict[str, Any]:
    """Where two layers disagree: the pieces (inside the region) where a
    feature of one overlaps a feature of the other of another class, the
    largest first; each with both classes and both feature ids. One
    statement: the overlay runs in PostGIS on the spatial index (a region
    is named outright, not as `IS NULL OR …`, so the index serves it too)."""
    region_sql, region_params = region.sql(conn)
    everywhere = not (region.xzqdm or region.boundary is not None)
    inside = sql.SQL("true") if everywhere else sql.SQL(
        "a.geom && r.geom AND b.geom && r.geom AND ST_Intersects(a.geom, r.geom) AND ST_Intersects(b.geom, r.geom)")
    piece = sql.SQL("ST_Intersection(a.geom, b.geom)") if everywhere else sql.SQL(
        "ST_Intersection(ST_Intersection(a.geom, b.geom), r.geom)")
    rows = conn.execute(sql.SQL("""
        WITH region AS (SELECT {region} AS geom), a AS ({a}), b AS ({b}),
        pieces AS (
            SELECT a.id AS id_a, b.id AS id_b, a.code AS code_a, b.code AS code_b,
                   ST_CollectionExtract({piece}, 3) AS geom
            FROM region r, a JOIN b ON a.geom && b.geom
            WHERE {inside} AND a.code IS DISTINCT FROM b.code AND ST_Intersects(a.geom, b.geom)
        ), measured AS (
            SELECT *, ST_Area(geom::geography) AS area FROM pieces WHERE NOT ST_IsEmpty(geom)
        )
        SELECT id_a, id_b, code_a, code_b, ST_AsGeoJSON(geom, 8)::json, count(*) OVER ()
        FROM measured WHERE area > {tol} ORDER BY area DESC, id_a, id_b LIMIT %s""").format(
        region=region_sql, a=a_query, b=b_query, piece=piece, inside=inside, tol=sql.Literal(SHAPE_TOLERANCE_M2)),
        [*region_params, *a_params, *b_params, LISTED]).fetchall()
    count = rows[0][5] if rows else 0
    return {"changed": count, "changed_class": count, "truncated": count > LISTED,
            "features": [{"key": f"{ia}/{ib}", "change": "class", "code_from": ca, "code_to": cb,
                          "id_from": ia, "id_to": ib, "geometry": g} for ia, ib, ca, cb, g, _ in rows]}


def layer_compare(database_url: str, layer: str = "GHYDYH", from_version: str | None = None,
                  to_version: str | None = None, from_layer: str | None = None, to_layer: str | None = None,
                  region: Region = EVERYWHERE, level: str = "乡", digits: int = 4) -> dict[str, Any]:
    """Versions: `layer` between from_version and to_version. Layers:
    from_layer against to_layer (each as in force)."""
    with connect(database_url) as conn, conn.transaction():
        if from_layer or to_layer:
            if not (from_layer and to_layer):
                raise invalid("to_layer", "比较两个图层需要 from_layer 和 to_layer", "Comparing two layers needs from_layer and to_layer")
            a_query, a_params = feature_query(conn, from_layer, digits=digits)
            b_query, b_params = feature_query(conn, to_layer, digits=digits)
            changes = _overlay(conn, a_query, a_params, b_query, b_params, region)
            subject = {"from_layer": from_layer, "to_layer": to_layer}
        else:
            if not (from_version and to_version):
                raise invalid("to_version", "比较两个版本需要 from_version 和 to_version", "Comparing two versions needs from_version and to_version")
            changes, a_query, a_params, b_query, b_params = _diff(conn, layer, from_version, to_version, digits)
            subject = {"layer": layer, "from_version": from_version, "to_version": to_version}
        rows_a = area_rows(conn, a_query, a_params, region, level)
        rows_b = area_rows(conn, b_query, b_params, region, level)
    names = names_zh()
    approx = approximate([*rows_a, *rows_b])
    delta: dict[tuple[str, str], dict[str, Any]] = {}
    for sign, rows in ((-1, rows_a), (1, rows_b)):
        for r in rows:
            entry = delta.setdefault((r["code"], r["xzqdm"]), {"code": r["code"], "xzqdm": r["xzqdm"],
                                                               "xzqmc": r["xzqmc"], "from_m2": 0.0, "to_m2": 0.0})
            entry["to_m2" if sign > 0 else "from_m2"] += r["area_m2"]
    by_class_a, by_class_b = totals(rows_a, "code"), totals(rows_b, "code")
    by_unit_a, by_unit_b = totals(rows_a, "xzqdm"), totals(rows_b, "xzqdm")
    unit_names = {r["xzqdm"]: r["xzqmc"] for r in (*rows_a, *rows_b)}

    def change(code_or_unit: str, a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        return {"from_m2": round(a.get(code_or_unit, 0.0), 2), "to_m2": round(b.get(code_or_unit, 0.0), 2),
                "change_m2": round(b.get(code_or_unit, 0.0) - a.get(code_or_unit, 0.0), 2),
                "change_ha": round((b.get(code_or_unit, 0.0) - a.get(code_or_unit, 0.0)) / 10_000, 4)}

    return {
        **subject, "level": level, "changes": changes,
        "by_class": [{"code": c, "name": names.get(c, ""), "approx": c in approx, **change(c, by_class_a, by_class_b)}
                     for c in sorted({*by_class_a, *by_class_b})],
        "by_unit": [{"xzqdm": u, "xzqmc": unit_names[u], **change(u, by_unit_a, by_unit_b)}
                    for u in sorted({*by_unit_a, *by_unit_b})],
        "by_class_and_unit": [with_units({**e, "area_m2": e["to_m2"] - e["from_m2"]}, names)
                              for e in sorted(delta.values(), key=lambda e: (e["code"], e["xzqdm"]))
                              if abs(e["to_m2"] - e["from_m2"]) > 0.005],
    }
