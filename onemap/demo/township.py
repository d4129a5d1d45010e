"""Township plan packages of the demo city (乡镇级国土空间总体规划成果), made
on demand from the loaded city (a second or so a township, so not at every
demo load): the township's boundary, its village-level planning units (the
township cut by a seeded Voronoi diagram), the master plan's land use in
force inside it, the control lines clipped to it, the village construction
boundaries (the rural residential and service land of each village) and
the indicators computed from those layers — a package that passes the
township edition of the specification.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pyogrio

from onemap.core.inforce import in_force

EDITION = "township-2024"
VILLAGES = 4                      # planning units a township is cut into
VILLAGE_NAMES = ("东", "南", "西", "北")
VILLAGE_CLASSES = ("0703", "0704")  # 农村宅基地, 农村社区服务设施用地: within 村庄建设边界
HECTARE = 10_000.0
WANMU = 6_666_666.666667   # 万亩 in m²
# (indicator name, SQL of its area in m² over the temporary layer tables)
INDICATORS = (
    ("永久基本农田保护面积", "SELECT sum(ST_Area(geom::geography)) FROM yjjbnt"),
    ("生态保护红线面积", "SELECT sum(ST_Area(geom::geography)) FROM stbhhx"),
    ("耕地保有量", "SELECT sum(ST_Area(geom::geography)) FROM ghydyh WHERE ydyhdm LIKE '01%'"),
    ("建设用地总面积", "SELECT sum(ST_Area(geom::geography)) FROM ghydyh "
                 "WHERE left(ydyhdm, 2) IN ('07','08','09','10','11','12','13','14','15','16')"),
)


def demo_townships(database_url: str, count: int = 2) -> list[str]:
    """The townships the demo makes packages for: the first `count` by code,
    not street offices (街道 have no township plan), whose plan in force
    keeps within the city's 2035 allocation of cropland and construction
    land (the others' packages fail INDICATOR-ALLOCATION, as they should)."""
    with psycopg.connect(database_url) as conn:
        return [r[0] for r in conn.execute(f"""
            WITH planned AS (
                SELECT p.xzqdm,
                       sum(ST_Area(p.geom::geography)) FILTER (WHERE p.ydyhdm LIKE '01%%') AS cropland,
                       sum(ST_Area(p.geom::geography)) FILTER (
                           WHERE left(p.ydyhdm, 2) BETWEEN '07' AND '16') AS construction
                FROM plan.ghydyh p WHERE {in_force(alias='p')} GROUP BY p.xzqdm)
            SELECT x.xzqdm FROM base.xzq x JOIN planned p USING (xzqdm)
            JOIN supervision.indicator_target c ON c.xzqdm = x.xzqdm AND c.code = 'ZB04' AND c.target_year = 2035
            JOIN supervision.indicator_target b ON b.xzqdm = x.xzqdm AND b.code = 'ZB05' AND b.target_year = 2035
            WHERE x.xzqjb = '乡' AND x.xzqmc NOT LIKE '%%街道'
              AND coalesce(p.cropland, 0) >= c.value * %(wanmu)s AND coalesce(p.construction, 0) <= b.value * 1e6
            ORDER BY x.xzqdm LIMIT %(n)s""", {"n": count, "wanmu": WANMU}).fetchall()]


def township_package(database_url: str, xzqdm: str, out: Path, seed: int = 1) -> Path:
    """Write the township's plan package (GeoPackage, EPSG:4490) to `out`."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        row = conn.execute("SELECT xzqmc FROM base.xzq WHERE xzqdm = %s AND xzqjb = '乡'", (xzqdm,)).fetchone()
        if row is None:
            raise ValueError(f"{xzqdm} 不是乡镇 / is not a township")
        name = row[0]
        _layer_tables(conn, xzqdm, name, seed)
        layers = {
            "XZQ": conn.execute("SELECT xzqdm, xzqmc, mj, ST_AsBinary(geom) FROM town").fetchall(),
            "CJGHDY": conn.execute("SELECT ghdybh, ghdymc, %s, mj, ST_AsBinary(geom) FROM village ORDER BY ghdybh",
                                   (xzqdm,)).fetchall(),
            "GHYDYH": conn.execute("SELECT bsm, ydyhdm, ydyhmc, %s, ghdybh, mj, ST_AsBinary(geom) FROM ghydyh ORDER BY id",
                                   (xzqdm,)).fetchall(),
            "STBHHX": _clipped(conn, "stbhhx"),
            "YJJBNT": _clipped(conn, "yjjbnt"),
            "CZKFBJ": _clipped(conn, "czkfbj"),
            "CZJSBJ": conn.execute("SELECT bjbh, czmc, ghdybh, mj, ST_AsBinary(geom) FROM czjsbj ORDER BY bjbh").fetchall(),
        }
        indicators = [(f"{xzqdm}ZB{k:02d}", zbmc, round((conn.execute(query).fetchone()[0] or 0.0) / HECTARE, 4),
                       "公顷", "约束性", xzqdm) for k, (zbmc, query) in enumerate(INDICATORS, start=1)]
    out.unlink(missing_ok=True)
    fields = {
        "XZQ": ("XZQDM", "XZQMC", "MJ"),
        "CJGHDY": ("GHDYBH", "GHDYMC", "XZQDM", "MJ"),
        "GHYDYH": ("BSM", "YDYHDM", "YDYHMC", "XZQDM", "GHDYBH", "MJ"),
        "STBHHX": ("HXBH", "HXMC", "XZQDM", "MJ"),
        "YJJBNT": ("BHTBBH", "DLBM", "XZQDM", "MJ"),
        "CZKFBJ": ("BJBH", "BJMC", "XZQDM", "MJ"),
        "CZJSBJ": ("BJBH", "CZMC", "GHDYBH", "MJ"),
    }
    _write_table(out, "SJBXX", ("BZBB", "XZQDM", "GHMC"), [(EDITION, xzqdm, f"{name}国土空间总体规划（2021—2035年）")])
    for layer, rows in layers.items():
        if rows:  # a 乡 without a town centre has no CZKFBJ
            _write_layer(out, layer, fields[layer], rows)
    _write_table(out, "GHZB", ("ZBBH", "ZBMC", "ZBZ", "DW", "ZBLX", "XZQDM"), indicators)
    return out


def _layer_tables(conn: psycopg.Connection, xzqdm: str, name: str, seed: int) -> None:
    """Temporary tables of the package's layers (dropped at commit)."""
    conn.execute("CREATE TEMP TABLE town ON COMMIT DROP AS "
                 "SELECT xzqdm, xzqmc, mj, geom FROM base.xzq WHERE xzqdm = %s", (xzqdm,))
    conn.execute("""
        CREATE TEMP TABLE village ON COMMIT DROP AS
        WITH cells AS (
            SELECT (ST_Dump(ST_VoronoiPolygons(ST_GeneratePoints(t.geom, %(n)s, %(seed)s), 0, ST_Buffer(t.geom, 0.01))))
                   .geom AS cell, t.geom
            FROM town t),
        clipped AS (
            SELECT ST_Multi(ST_CollectionExtract(ST_Intersection(cell, geom), 3)) AS geom,
                   row_number() OVER (ORDER BY ST_X(ST_Centroid(cell)), ST_Y(ST_Centroid(cell))) AS k
            FROM cells)
        SELECT %(unit)s || lpad(k::text, 3, '0') AS ghdybh, %(name)s || (%(names)s::text[])[k] || '村' AS ghdymc,
               ST_Area(geom::geography) AS mj, geom
        FROM clipped WHERE NOT ST_IsEmpty(geom)""",
                 {"n": VILLAGES, "seed": seed, "unit": xzqdm, "name": name, "names": list(VILLAGE_NAMES)})
    conn.execute(f"""
        CREATE TEMP TABLE ghydyh ON COMMIT DROP AS
        SELECT p.id, p.bsm, p.ydyhdm, p.ydyhmc, p.mj, p.geom,
               (SELECT v.ghdybh FROM village v WHERE ST_Intersects(v.geom, ST_PointOnSurface(p.geom))
                ORDER BY v.ghdybh LIMIT 1) AS ghdybh
        FROM plan.ghydyh p WHERE p.xzqdm = %s AND {in_force(alias='p')}""", (xzqdm,))
    for table, columns in (("stbhhx", "hxbh, hxmc"), ("yjjbnt", "bhtbbh, dlbm"), ("czkfbj", "bjbh, bjmc")):
        conn.execute(f"""
            CREATE TEMP TABLE {table} ON COMMIT DROP AS
            SELECT * FROM (
                SELECT f.id, {columns}, ST_Multi(ST_CollectionExtract(ST_Intersection(f.geom, t.geom), 3)) AS geom
                FROM plan.{table} f JOIN town t ON f.geom && t.geom
                WHERE {in_force(alias='f')} AND ST_Intersects(f.geom, t.geom)) s
            WHERE ST_Area(geom::geography) > 1""")
    conn.execute("""
        CREATE TEMP TABLE czjsbj ON COMMIT DROP AS
        SELECT v.ghdybh || 'B' AS bjbh, v.ghdymc AS czmc, v.ghdybh,
               ST_Area(u.geom::geography) AS mj, u.geom
        FROM village v JOIN LATERAL (
            SELECT ST_Multi(ST_CollectionExtract(ST_Union(g.geom), 3)) AS geom FROM ghydyh g
            WHERE g.ghdybh = v.ghdybh AND left(g.ydyhdm, 4) = ANY(%s)) u ON u.geom IS NOT NULL""",
                 (list(VILLAGE_CLASSES),))


def _clipped(conn: psycopg.Connection, table: str) -> list[tuple]:
    key, second = {"stbhhx": ("hxbh", "hxmc"), "yjjbnt": ("bhtbbh", "dlbm"), "czkfbj": ("bjbh", "bjmc")}[table]
    return conn.execute(f"SELECT {key}, {second}, t.xzqdm, ST_Area(c.geom::geography), ST_AsBinary(c.geom) "
                        f"FROM {table} c, town t ORDER BY c.id").fetchall()


def _write_layer(out: Path, layer: str, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows of (attributes..., WKB geometry) as a MultiPolygon layer."""
    geometry = np.array([bytes(r[-1]) for r in rows], dtype=object)
    pyogrio.raw.write(out, geometry=geometry, field_data=_columns(fields, [r[:-1] for r in rows]),
                      fields=list(fields), layer=layer, driver="GPKG", geometry_type="MultiPolygon",
                      crs="EPSG:4490", append=out.exists())


def _write_table(out: Path, layer: str, fields: tuple[str, ...], rows: list[tuple]) -> None:
    pyogrio.raw.write(out, geometry=None, field_data=_columns(fields, rows), fields=list(fields), layer=layer,
                      driver="GPKG", geometry_type=None, append=out.exists())


def _columns(fields: tuple[str, ...], rows: list[tuple]) -> list[np.ndarray]:
    return [np.array([r[i] for r in rows], dtype=float if isinstance(rows[0][i], float) else object)
            for i in range(len(fields))]
