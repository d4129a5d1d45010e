"""A package loaded into a staging schema of its own (qc_<hex>), where the
checks run as SQL with GiST indexes. The schema is dropped when the check
ends, whatever the outcome; schemas left by a killed run are swept.

Per polygon layer three tables:
  l<i>      the attributes as delivered (GDAL's ogr2ogr, COPY), plus geom
  l<i>__g   fid, geom, kind (polygon | null | empty | other), ok
            (polygonal and valid), area (ellipsoidal m², ok features only)
  l<i>__s   the polygons (invalid ones as ST_MakeValid repairs them) cut
            into pieces of at most 256 vertices (ST_Subdivide), GiST
            indexed: the topology checks join these, so joins between big
            polygons (control lines) and small ones stay cheap
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from onemap.core.db import connect, connection_parameters, libpq_dsn
from onemap.core.errors import invalid
from processes.qc.package import Package, SourceLayer
from processes.qc.spec import LayerSpec, Spec

SUBDIVIDE_VERTICES = 256
STAGING_PREFIX = "qc_"


@dataclass(frozen=True)
class Column:
    name: str            # column name in PostgreSQL
    pg_type: str         # data type as information_schema says it
    length: int | None   # declared character length


@dataclass(frozen=True)
class StagedLayer:
    name: str                    # layer name (upper case)
    spec: LayerSpec | None       # None: a layer the specification does not know
    source: SourceLayer
    table: str                   # l<i> in the staging schema
    columns: dict[str, Column]   # by upper-case field name
    spatial: bool

    @property
    def geom_table(self) -> str:
        return self.table + "__g"

    @property
    def pieces_table(self) -> str:
        return self.table + "__s"

    @property
    def polygonal(self) -> bool:
        return self.spatial and (self.spec is None or self.spec.polygonal)


class Staging:
    """The staging schema of one check run: create with `Staging.create`,
    always `drop()` (the runner does it in `finally`)."""

    def __init__(self, database_url: str, schema: str) -> None:
        self.database_url = database_url
        self.schema = schema
        self.conn = connect(database_url, autocommit=True)
        self.conn.execute("SET client_min_messages = warning")  # ST_IsValid's NOTICEs
        self.layers: dict[str, StagedLayer] = {}

    @classmethod
    def create(cls, database_url: str) -> Staging:
        schema = STAGING_PREFIX + secrets.token_hex(6)
        sweep(database_url)
        staging = cls(database_url, schema)
        # The schema's comment names this backend: a sweep knows the schema
        # is abandoned when that backend is gone. One statement, one
        # transaction: no sweep sees the schema without its comment.
        staging.conn.execute(sql.SQL("CREATE SCHEMA {s}; COMMENT ON SCHEMA {s} IS {c}").format(
            s=sql.Identifier(schema), c=sql.Literal(f"plan-qc staging, backend {staging.backend_pid()}")))
        # The overlays of the checks are planar in lon/lat, as in any GIS, so
        # their results are measured the same way: planar area scaled by the
        # GRS80 metres per degree at the centroid's latitude. A geodesic
        # measure reads tens of m² in the hairline between a 2 km edge and the
        # same edge cut in two (the cut point is on the straight line in
        # degrees, not on the geodesic).
        staging.conn.execute(sql.SQL("""
            CREATE FUNCTION {f}(g geometry) RETURNS double precision
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
                SELECT ST_Area(g) * (pi() / 180) ^ 2 * 6378137.0 ^ 2 * (1 - 0.0066943800229)
                       * cos(radians(lat)) / (1 - 0.0066943800229 * sin(radians(lat)) ^ 2) ^ 2
                FROM (SELECT ST_Y(ST_Centroid(g)) AS lat) c
            $$""").format(f=staging.ident("planar_m2")))
        return staging

    def backend_pid(self) -> int:
        return self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]

    def ident(self, table: str) -> sql.Composed:
        return sql.Identifier(self.schema, table)

    def drop(self) -> None:
        try:
            self.conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
        finally:
            self.conn.close()

    # --- loading -------------------------------------------------------------
    def load(self, package: Package, spec: Spec, progress: Callable[[str], None]) -> None:
        for i, source in enumerate(package.layers, start=1):
            progress(f"载入图层 {source.name} / loading layer {source.name} ({source.features})")
            table = f"l{i}"
            spatial = source.geometry_type is not None
            self._ogr2ogr(source, table, spatial, spec)
            layer = StagedLayer(name=source.name, spec=spec.layer(source.name), source=source,
                                table=table, columns=self._columns(table), spatial=spatial)
            self.layers[layer.name] = layer
            if layer.polygonal:
                progress(f"几何预处理 {source.name} / preparing geometries of {source.name}")
                self._prepare_geometry(layer, spec.storage_srid)

    def _ogr2ogr(self, source: SourceLayer, table: str, spatial: bool, spec: Spec) -> None:
        dsn = "PG:" + libpq_dsn(self.database_url, with_password=False, active_schema=self.schema)
        cmd = ["ogr2ogr", "-f", "PostgreSQL", dsn, str(source.path), source.layer, "-nln", table,
               "-lco", f"SCHEMA={self.schema}", "-lco", "FID=fid", "-lco", "GEOMETRY_NAME=geom",
               "-lco", "SPATIAL_INDEX=NONE", "-lco", "UNLOGGED=ON", "-lco", "LAUNDER=YES",
               "-preserve_fid", "-gt", "65536", "--config", "PG_USE_COPY", "YES"]
        for option in source.open_options:
            cmd += ["-oo", option]
        if spatial:
            cmd += ["-nlt", "GEOMETRY", "-dim", "XY"]
            # Validity is judged as delivered: a package in EPSG:4546 is kept
            # in 4546 here and brought to the storage system afterwards.
            if source.epsg is None:
                cmd += ["-t_srs", f"EPSG:{spec.storage_srid}"]
        env = {**os.environ, "PGPASSWORD": connection_parameters(self.database_url).get("password", ""),
               "PGCLIENTENCODING": "UTF8"}
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise invalid(source.name, f"图层 {source.name} 无法读取：{result.stderr.strip()[-300:]}", f"Layer {source.name} cannot be read: {result.stderr.strip()[-300:]}", 400, "InvalidParameterValue")

    def _columns(self, table: str) -> dict[str, Column]:
        rows = self.conn.execute(
            "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name NOT IN ('fid', 'geom')",
            (self.schema, table)).fetchall()
        return {name.upper(): Column(name, pg_type, length) for name, pg_type, length in rows}

    def _prepare_geometry(self, layer: StagedLayer, srid: int) -> None:
        """The geometry table: validity (and why not) judged in the delivered
        system, geometries in the storage system `srid`. A valid polygon that
        the change of system bends into an invalid one is repaired: that
        defect is ours, not the package's."""
        g, s, raw = self.ident(layer.geom_table), self.ident(layer.pieces_table), self.ident(layer.table)
        self.conn.execute(sql.SQL("""
            CREATE UNLOGGED TABLE {g} AS
            SELECT fid, geom, kind, ok, reason, location, area
            FROM (SELECT fid, kind, ok, d.reason,
                         ST_Transform(ST_SetSRID(d.location, ST_SRID(v.geom)), {srid}) AS location,
                         CASE WHEN ST_SRID(v.geom) = {srid} THEN v.geom
                              WHEN ok THEN {transformed}
                              ELSE ST_Transform(v.geom, {srid}) END AS geom
                  FROM (SELECT fid, geom, kind, kind = 'polygon' AND ST_IsValid(geom) AS ok
                        FROM (SELECT fid, geom,
                                     CASE WHEN geom IS NULL THEN 'null'
                                          WHEN ST_IsEmpty(geom) THEN 'empty'
                                          WHEN ST_GeometryType(geom) IN ('ST_Polygon', 'ST_MultiPolygon')
                                               THEN 'polygon'
                                          ELSE 'other' END AS kind
                              FROM {raw}) k) v
                  LEFT JOIN LATERAL ST_IsValidDetail(v.geom) d ON v.kind = 'polygon' AND NOT v.ok) w,
                 LATERAL (SELECT CASE WHEN ok THEN ST_Area(geom::geography) END AS area) a""").format(
            g=g, raw=raw, srid=sql.Literal(srid), transformed=sql.SQL(transformed_polygons("v.geom", srid))))
        self.conn.execute(sql.SQL("ALTER TABLE {g} ADD PRIMARY KEY (fid)").format(g=g))
        # Topology sees invalid polygons as ST_MakeValid repairs them, so a
        # bad ring is reported once (GEOM-INVALID), not again as a gap.
        # ST_Subdivide's box clipping can drop a spike a few cm wide: where
        # the pieces do not add up to the feature, the feature stays whole.
        self.conn.execute(sql.SQL("""
            CREATE UNLOGGED TABLE {s} AS
            WITH usable AS (
                SELECT fid, geom FROM {g} WHERE ok
                UNION ALL
                SELECT fid, ST_CollectionExtract(ST_MakeValid(geom), 3) FROM {g}
                WHERE kind = 'polygon' AND NOT ok
            ), cut AS (
                SELECT fid, geom, ARRAY(SELECT ST_Subdivide(geom, {n})) AS pieces
                FROM usable WHERE ST_NPoints(geom) > {n}
            )
            SELECT fid, geom FROM usable WHERE ST_NPoints(geom) <= {n} AND NOT ST_IsEmpty(geom)
            UNION ALL
            SELECT fid, unnest(CASE WHEN abs((SELECT sum(ST_Area(p)) FROM unnest(pieces) p)
                                             - ST_Area(geom)) <= 1e-9 * ST_Area(geom)
                                    THEN pieces ELSE ARRAY[geom] END) FROM cut
            """).format(s=s, g=g, n=sql.Literal(SUBDIVIDE_VERTICES)))
        self.conn.execute(sql.SQL("CREATE INDEX ON {s} USING gist (geom)").format(s=s))
        self.conn.execute(sql.SQL("CREATE INDEX ON {s} (fid)").format(s=s))
        self.conn.execute(sql.SQL("ANALYZE {g}; ANALYZE {s}").format(g=g, s=s))


def transformed_polygons(geom: str, srid: int) -> str:
    """SQL: the valid polygonal expression `geom` in the system `srid`. Where
    the change of system makes it cross itself (two vertices that nearly
    meet), it is repaired, without the crumbs (under 0.01 m²) the repair
    cuts off."""
    # a scalar subquery, so the transform runs once per row, not three times
    return (f"(SELECT CASE WHEN ST_IsValid(m) THEN m ELSE "
            f"(SELECT ST_Multi(ST_Collect(d.geom)) FROM ST_Dump(ST_MakeValid(m)) d "
            f"WHERE ST_Dimension(d.geom) = 2 AND ST_Area(ST_Transform(d.geom, 4490)::geography) > 0.01) END "
            f"FROM (SELECT ST_Transform({geom}, {int(srid)}) AS m) t)")


def sweep(database_url: str) -> list[str]:
    """Drop staging schemas whose run is gone (its backend no longer exists):
    what a killed check left behind."""
    dropped = []
    with connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT n.nspname, obj_description(n.oid, 'pg_namespace') FROM pg_namespace n "
            "WHERE n.nspname LIKE %s", (STAGING_PREFIX + "%",)).fetchall()
        alive = {r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity").fetchall()}
        for schema, comment in rows:
            try:
                pid = int((comment or "").rsplit(" ", 1)[-1])
            except ValueError:
                pid = None
            if pid not in alive:
                try:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
                    dropped.append(schema)
                except psycopg.Error:
                    pass  # another sweep got there first
    return dropped
