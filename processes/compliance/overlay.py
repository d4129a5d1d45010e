"""The overlays in PostGIS: one statement for all rules of a check.

Each rule becomes one branch of a UNION ALL that uses the layer's GiST
index (ST_Intersects / ST_DWithin against the boundary, a constant that
PostGIS prepares once per statement). Areas are ellipsoidal
(ST_Area(geography) on the CGCS2000 ellipsoid, GRS80). Plan layers count
only the features in force now. A survey-coded layer (DLTB) is filtered on
its planning class through the crosswalk, and each feature says its planning
class and how exactly it maps, so a survey 0601 (工业用地) is never taken for
a planning 0601 (农村道路).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.inforce import in_force
from onemap.core.landuse import SURVEY, crosswalk_kind_sql, landuse_code_sql
from onemap.core.registry import Layer
from processes.compliance.rules import Rule

# The intersection, short-cut when one geometry covers the other (the usual
# case for small parcels inside a big boundary and vice versa).
_OVERLAP = """CASE WHEN ST_CoveredBy(t.geom, b.g) THEN t.geom
                   WHEN ST_CoveredBy(b.g, t.geom) THEN b.g
                   ELSE ST_CollectionExtract(ST_Intersection(t.geom, b.g), 3) END"""


@dataclass(frozen=True)
class OverlayRow:
    rule: str
    kind: str                  # feature | part: the part of the boundary a rule is about, outside
                               # a `within` layer or within the buffer of a `distance` layer |
                               # empty: the layer of a rule with `when_empty` holds no feature
    feature_id: int | None
    attributes: dict[str, Any]
    overlap_m2: float
    distance_m: float | None
    geojson: str | None        # the overlap (or the part), EPSG:4490 lon/lat


def _in_force(layer: Layer) -> sql.Composable:
    if not layer.versioned:
        return sql.SQL("")
    return sql.SQL(" AND " + in_force(alias="t"))


def _filter(rule: Rule, layer: Layer, index: int) -> tuple[sql.Composable, dict[str, Any]]:
    if not rule.filter_field:
        return sql.SQL(""), {}
    name = f"f{index}"
    column: sql.Composable = sql.SQL("t.{}::text").format(sql.Identifier(rule.filter_field))
    if layer.classification == SURVEY:
        column = landuse_code_sql(column)
    return (sql.SQL(" AND {} LIKE ANY({})").format(column, sql.Placeholder(name)),
            {name: [p.replace("%", r"\%").replace("_", r"\_") + "%" for p in rule.filter_prefixes]})


def _attributes(layer: Layer) -> sql.Composable:
    fields = list(layer.key_fields) + (["plan_version"] if layer.versioned else [])
    pairs = [sql.SQL("{}, t.{}").format(sql.Literal(f), sql.Identifier(f)) for f in fields]
    if layer.classification == SURVEY:
        # the planning class of the survey code (dlbm) and the kind of the mapping
        code = sql.SQL("t.dlbm")
        pairs.append(sql.SQL("'landuse_code', {}, 'crosswalk', {}").format(
            landuse_code_sql(code), crosswalk_kind_sql(code)))
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))


def _empty_branch(rule: Rule, layer: Layer) -> sql.Composable:
    """A row saying the layer is empty (nothing was checked), when it is."""
    return sql.SQL("""
        SELECT {rule}, 'empty', NULL::bigint, '{{}}'::jsonb, 0::float8, NULL::float8, NULL::text
        WHERE NOT EXISTS (SELECT 1 FROM {table})
        UNION ALL""").format(rule=sql.Literal(rule.id), table=sql.Identifier(layer.schema, layer.table_name))


def _branch(rule: Rule, layer: Layer, index: int, max_lat: float) -> tuple[sql.Composable, dict[str, Any]]:
    table = sql.Identifier(layer.schema, layer.table_name)
    where, params = _filter(rule, layer, index)
    where = where + _in_force(layer)
    rule_id = sql.Literal(rule.id)
    attrs = _attributes(layer)
    if rule.relation == "distance":
        # a degree bound for the index, then the exact geodesic distance
        degrees = rule.buffer_m / (111_320 * math.cos(math.radians(min(max_lat, 80)))) * 1.05
        buffer_ = sql.Literal(rule.buffer_m)
        query = sql.SQL("""
            SELECT {rule}, 'feature', t.id::bigint, {attrs},
                   ST_Area(z.geom::geography), ST_Distance(t.geom::geography, b.g::geography),
                   ST_AsGeoJSON(z.geom, 9)
            FROM {table} t CROSS JOIN b
            CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(
                 b.g, ST_SetSRID(ST_Buffer(t.geom::geography, {buffer})::geometry, 4490)), 3) AS geom) z
            WHERE ST_DWithin(t.geom, b.g, {degrees}) AND ST_DWithin(t.geom::geography, b.g::geography, {buffer}){where}
            UNION ALL
            SELECT {rule}, 'part', NULL, '{{}}'::jsonb, ST_Area(p.geom::geography), NULL, ST_AsGeoJSON(p.geom, 9)
            FROM b CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(b.g, ST_Union(
                ST_SetSRID(ST_Buffer(t.geom::geography, {buffer})::geometry, 4490))), 3) AS geom
                FROM {table} t
                WHERE ST_DWithin(t.geom, b.g, {degrees})
                  AND ST_DWithin(t.geom::geography, b.g::geography, {buffer}){where}) p
            WHERE p.geom IS NOT NULL
        """).format(rule=rule_id, attrs=attrs, table=table, buffer=buffer_, degrees=sql.Literal(degrees),
                    where=where)
        return query, params
    query = sql.SQL("""
        SELECT {rule}, 'feature', t.id::bigint, {attrs}, ST_Area(z.geom::geography), NULL::float8,
               ST_AsGeoJSON(z.geom, 9)
        FROM {table} t CROSS JOIN b CROSS JOIN LATERAL (SELECT {overlap} AS geom) z
        WHERE ST_Intersects(t.geom, b.g){where}
    """).format(rule=rule_id, attrs=attrs, table=table, overlap=sql.SQL(_OVERLAP), where=where)
    if rule.relation == "within":
        query = query + sql.SQL("""
        UNION ALL
        SELECT {rule}, 'part', NULL, '{{}}'::jsonb, ST_Area(d.geom::geography), NULL, ST_AsGeoJSON(d.geom, 9)
        FROM b CROSS JOIN LATERAL (
            SELECT ST_CollectionExtract(ST_Difference(b.g, coalesce(
                (SELECT ST_Union(ST_Intersection(t.geom, b.g)) FROM {table} t WHERE ST_Intersects(t.geom, b.g){where}),
                'SRID=4490;POLYGON EMPTY'::geometry)), 3) AS geom) d
        """).format(rule=rule_id, table=table, where=where)
    return query, params


def overlay(conn: psycopg.Connection, boundary_wkb: bytes, rules: list[Rule], layers: dict[str, Layer],
            max_lat: float) -> list[OverlayRow]:
    """Every overlapped (or nearby) feature of every rule, with its overlap."""
    if not rules:
        return []
    branches, params = [], {"b": boundary_wkb}
    for index, rule in enumerate(rules):
        branch, extra = _branch(rule, layers[rule.layer], index, max_lat)
        if rule.when_empty:
            branch = _empty_branch(rule, layers[rule.layer]) + branch
        branches.append(sql.SQL("(") + branch + sql.SQL(")"))
        params.update(extra)
    query = (sql.SQL("WITH b AS MATERIALIZED (SELECT ST_GeomFromWKB(%(b)s, 4490) AS g) ")
             + sql.SQL(" UNION ALL ").join(branches))
    rows = conn.execute(query, params).fetchall()
    return [OverlayRow(rule=r[0], kind=r[1], feature_id=r[2], attributes=r[3] or {}, overlap_m2=float(r[4] or 0.0),
                       distance_m=None if r[5] is None else float(r[5]), geojson=r[6]) for r in rows]
