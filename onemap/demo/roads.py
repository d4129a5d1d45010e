"""Road centre lines of the demo city (道路中心线): a road between the seats
of neighbouring townships (the edges of their Delaunay triangulation, none
longer than MAX_KM), a provincial road where it joins two counties, a
county road within one; cut to the city, lengths on the ellipsoid. One
INSERT ... SELECT in the loader's transaction, from the loaded townships."""

from __future__ import annotations

import psycopg

TABLES = ("base.dlzxx",)
MAX_KM = 25


def load(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("""
        WITH seat AS (SELECT xzqdm, xzqmc, sjxzqdm, ST_PointOnSurface(geom) AS geom FROM base.xzq WHERE xzqjb = '乡'),
        edge AS (SELECT (ST_Dump(ST_DelaunayTriangles(ST_Collect(geom ORDER BY xzqdm), 0, 1))).geom AS geom FROM seat),
        road AS (
            SELECT a.xzqmc || '—' || b.xzqmc || '公路' AS dlmc,
                   CASE WHEN a.sjxzqdm = b.sjxzqdm THEN '县道' ELSE '省道' END AS dldj,
                   ST_Multi(ST_CollectionExtract(ST_Intersection(e.geom, c.geom), 2)) AS geom
            FROM edge e
            JOIN seat a ON ST_DWithin(a.geom, ST_StartPoint(e.geom), 1e-9)
            JOIN seat b ON ST_DWithin(b.geom, ST_EndPoint(e.geom), 1e-9)
            JOIN base.xzq c ON c.xzqjb = '市'
            WHERE ST_Length(e.geom::geography) < %s * 1000)
        INSERT INTO base.dlzxx (id, dlbh, dlmc, dldj, cd, geom)
        SELECT n, 'DL' || lpad(n::text, 4, '0'), dlmc, dldj, ST_Length(geom::geography), geom
        FROM (SELECT row_number() OVER (ORDER BY dlmc) AS n, * FROM road WHERE NOT ST_IsEmpty(geom)) r""",
                        (MAX_KM,)).rowcount
    return {"base.dlzxx": rows}
