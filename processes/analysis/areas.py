"""Ellipsoidal areas of a set of features by land-use class and admin unit.

Features are cut by the admin units (base.xzq of one level, which tile the
city) and, when given, by a region (an admin unit, a drawn boundary); a
feature inside its unit (ST_Covers, the unit prepared once) takes its own area, the
others the area of the intersection. Areas are ellipsoidal (geography, the
CGCS2000 ellipsoid), in m², also given in hectares and mu.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from onemap.core.errors import invalid
from onemap.core.landuse import SURVEY, approx_sql, landuse_code_sql
from onemap.core.registry import Layer, load_layers

MU_M2 = 10_000 / 15
LEVELS = ("市", "县", "乡")
CLASS_COLUMNS = ("ydyhdm", "dlbm")      # the land-use code of a layer, the first it has


def polygon_layer(layer_id: str) -> Layer:
    layers = {layer.id: layer for layer in load_layers() if layer.geometry == "MultiPolygon"}
    if layer_id not in layers:
        raise invalid("layer", f"图层 {layer_id} 不存在或不是面图层；可用：{'、'.join(layers)}", f"Layer {layer_id} does not exist or is not polygonal; one of {', '.join(layers)}")
    return layers[layer_id]


def class_column(conn: Any, layer: Layer) -> str | None:
    columns = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (layer.schema, layer.table_name))}
    return next((c for c in CLASS_COLUMNS if c in columns), None)


def class_code(conn: Any, layer: Layer, digits: int, alias: str = "t") -> tuple[sql.Composable, sql.Composable]:
    """SQL of a feature's planning class cut to `digits` (the layer id for
    layers without classes) and of whether it is only approximate: a
    survey-coded layer (DLTB) goes through the crosswalk."""
    column = class_column(conn, layer)
    if not column:
        return sql.Literal(layer.id), sql.SQL("false")
    code: sql.Composable = sql.Identifier(alias, column)
    approx: sql.Composable = sql.SQL("false")
    if layer.classification == SURVEY:
        code, approx = landuse_code_sql(code), approx_sql(code)
    return sql.SQL("left({}, {})").format(code, sql.Literal(digits)), approx


@dataclass(frozen=True)
class Region:
    """Where to measure: an admin unit and/or a drawn boundary (GeoJSON
    geometry in CRS84 / EPSG:4490 lon-lat); neither means everywhere."""

    xzqdm: str | None = None
    boundary: dict[str, Any] | None = None

    def sql(self, conn: Any) -> tuple[sql.Composable, list[Any]]:
        """An expression for the region's geometry (NULL: everywhere)."""
        parts: list[sql.Composable] = []
        params: list[Any] = []
        if self.xzqdm:
            if not conn.execute("SELECT 1 FROM base.xzq WHERE xzqdm = %s", (self.xzqdm,)).fetchone():
                raise invalid("xzqdm", f"行政区代码 {self.xzqdm} 不存在", f"No admin unit {self.xzqdm}", 404)
            parts.append(sql.SQL("(SELECT geom FROM base.xzq WHERE xzqdm = %s)"))
            params.append(self.xzqdm)
        if self.boundary is not None:
            text = json.dumps(self.boundary)
            try:
                valid, reason, dim = conn.execute(
                    "SELECT ST_IsValid(g), ST_IsValidReason(g), ST_Dimension(g) FROM "
                    "(SELECT ST_GeomFromGeoJSON(%s) AS g) s", (text,)).fetchone()
            except Exception:
                conn.rollback()
                raise invalid("boundary", "边界不是有效的 GeoJSON 几何", "The boundary is not a GeoJSON geometry") from None
            if dim != 2:
                raise invalid("boundary", "边界应为面（Polygon / MultiPolygon）", "The boundary must be a Polygon or MultiPolygon")
            if not valid:
                raise invalid("boundary", f"边界几何无效：{reason}", f"The boundary is invalid: {reason}")
            parts.append(sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490)"))
            params.append(text)
        if not parts:
            return sql.SQL("NULL::geometry"), []
        expr = parts[0] if len(parts) == 1 else sql.SQL("ST_Intersection({}, {})").format(*parts)
        return expr, params


def area_rows(conn: Any, features: sql.Composable, params: list[Any], region: Region,
              level: str = "乡") -> list[dict[str, Any]]:
    """Areas of `features` (a query with columns id, code, approx, geom) by
    code and admin unit of `level`, inside the region; `approx`: some of the
    area maps to its class only approximately (the survey-to-plan crosswalk)."""
    if level not in LEVELS:
        raise invalid("level", f"行政区级别应为 {'/'.join(LEVELS)}", f"The unit level must be one of {', '.join(LEVELS)}")
    region_sql, region_params = region.sql(conn)
    rows = conn.execute(sql.SQL("""
        WITH region AS (SELECT {region} AS geom),
        units AS (
            SELECT u.xzqdm, u.xzqmc,
                   CASE WHEN r.geom IS NULL THEN u.geom ELSE ST_Intersection(u.geom, r.geom) END AS geom
            FROM base.xzq u, region r
            WHERE u.xzqjb = %s AND (r.geom IS NULL OR u.geom && r.geom AND ST_Intersects(u.geom, r.geom))
        ), f AS ({features})
        SELECT f.code, u.xzqdm, u.xzqmc, count(DISTINCT f.id), bool_or(f.approx),
               sum(CASE WHEN ST_Covers(u.geom, f.geom) THEN ST_Area(f.geom::geography)
                        ELSE ST_Area(ST_Intersection(f.geom, u.geom)::geography) END)
        FROM units u JOIN f ON f.geom && u.geom
        WHERE NOT ST_IsEmpty(u.geom) AND ST_Intersects(f.geom, u.geom)
        GROUP BY f.code, u.xzqdm, u.xzqmc ORDER BY f.code, u.xzqdm""").format(
        region=region_sql, features=features), [*region_params, level, *params]).fetchall()
    return [{"code": code, "xzqdm": xzqdm, "xzqmc": xzqmc, "features": n, "approx": approx, "area_m2": area}
            for code, xzqdm, xzqmc, n, approx, area in rows if area and area > 0]


def with_units(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    area = row["area_m2"]
    return {**row, "name": names.get(row.get("code") or "", ""), "area_m2": round(area, 2),
            "area_ha": round(area / 10_000, 4), "area_mu": round(area / MU_M2, 2)}


def approximate(rows: list[dict[str, Any]]) -> set[str]:
    """The classes some of whose area maps only approximately."""
    return {r["code"] for r in rows if r.get("approx")}


def totals(rows: list[dict[str, Any]], key: str, value: str = "area_m2") -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        out[row[key]] = out.get(row[key], 0.0) + row[value]
    return out


EVERYWHERE = Region()
