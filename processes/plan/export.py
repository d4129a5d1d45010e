"""Export the plan (the version in force, or any version) as a plan package
in the form the specification describes: GeoPackage or a zip of
shapefiles, in EPSG:4490 or one of the other accepted systems. With the
admin divisions (XZQ) and the indicators (GHZB) computed from the layers."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from onemap.core.db import connect, connection_parameters, libpq_dsn
from onemap.core.inforce import in_force
from processes.qc.spec import Spec, default_edition
from processes.qc.staging import transformed_polygons

# Package layer -> (SQL select list from the table, table, versioned).
# Columns are named as the specification names the fields. Areas are
# numeric(20, 2) so a shapefile holds a whole city (a DBF Real is 24.15).
MJ = 'mj::numeric(20, 2) AS "MJ"'  # the cast rounds to the cm² as well
LAYER_SQL: dict[str, tuple[str, str, bool]] = {
    "XZQ": ('xzqdm AS "XZQDM", xzqmc AS "XZQMC", ' + MJ, "base.xzq", False),
    "GHYDYH": ('bsm AS "BSM", ydyhdm AS "YDYHDM", ydyhmc AS "YDYHMC", xzqdm AS "XZQDM", ' + MJ,
               "plan.ghydyh", True),
    "STBHHX": ('hxbh AS "HXBH", hxmc AS "HXMC", xzqdm AS "XZQDM", ' + MJ,
               "plan.stbhhx", True),
    "YJJBNT": ('bhtbbh AS "BHTBBH", dlbm AS "DLBM", xzqdm AS "XZQDM", ' + MJ,
               "plan.yjjbnt", True),
    "CZKFBJ": ('bjbh AS "BJBH", bjmc AS "BJMC", xzqdm AS "XZQDM", ' + MJ,
               "plan.czkfbj", True),
    "LSWHBHX": ('bhxbh AS "BHXBH", bhxmc AS "BHXMC", bhlx AS "BHLX", xzqdm AS "XZQDM", ' + MJ,
                "plan.lswhbhx", True),
}

# Indicators exported for the city and each county-level unit, all 约束性.
INDICATOR_UNIT = "公顷"


def _pg_source(database_url: str) -> tuple[str, dict[str, str]]:
    password = connection_parameters(database_url).get("password", "")
    return "PG:" + libpq_dsn(database_url, with_password=False), {**os.environ, "PGPASSWORD": password}


def _version_filter(version: str | None) -> str:
    return "plan_version = %(version)s" if version else in_force()


def indicator_rows(database_url: str, spec: Spec, version: str | None = None) -> list[dict[str, object]]:
    """GHZB rows computed from the plan tables: each indicator of the
    specification for the city and its county-level units, in hectares.
    The units are cut into small pieces first, as plan-qc cuts them: a
    feature against a piece is a cheap test, against a whole county not."""
    tables = {name: LAYER_SQL[name][1] for name in LAYER_SQL}
    with connect(database_url) as conn:
        units = [u for (u,) in conn.execute(
            "SELECT xzqdm FROM base.xzq WHERE xzqjb IN ('市', '县') ORDER BY xzqdm").fetchall()]
        conn.execute("CREATE TEMPORARY TABLE unit_pieces ON COMMIT DROP AS "
                     "SELECT xzqdm, ST_Subdivide(geom, 128) AS geom FROM base.xzq WHERE xzqdm = ANY(%s)", (units,))
        conn.execute("CREATE INDEX ON unit_pieces USING gist (geom); ANALYZE unit_pieces")
        areas: dict[tuple[int, str], float] = {}
        for k, indicator in enumerate(spec.indicators, start=1):
            where = "TRUE"
            if indicator.where_field:
                where = " OR ".join(f"f.{indicator.where_field.lower()} LIKE '{p}%%'"
                                    for p in indicator.where_prefix)
            areas.update(((k, unit), area) for unit, area in conn.execute(f"""
                SELECT u.xzqdm, sum(CASE WHEN ST_Covers(u.geom, f.geom) THEN ST_Area(f.geom::geography)
                                    ELSE ST_Area(ST_Intersection(f.geom, u.geom)::geography) END)
                FROM unit_pieces u JOIN {tables[indicator.layer]} f ON f.geom && u.geom
                WHERE ({where}) AND ({_version_filter(version)})
                  AND ST_Intersects(f.geom, u.geom)
                GROUP BY u.xzqdm""", {"version": version}).fetchall())
    return [{"ZBBH": f"{unit}ZB{k:02d}", "ZBMC": indicator.zbmc,
             "ZBZ": round(areas.get((k, unit), 0.0) / spec.units[INDICATOR_UNIT], 4), "DW": INDICATOR_UNIT,
             "ZBLX": "约束性", "XZQDM": unit}
            for unit in units for k, indicator in enumerate(spec.indicators, start=1)]


def export_package(database_url: str, out: Path, version: str | None = None, epsg: int = 4490,
                   fmt: str = "gpkg", spec: Spec | None = None) -> Path:
    """Write the plan as a package file (`fmt` gpkg or shp-zip) and return its path."""
    spec = spec or default_edition()
    if epsg not in spec.accepted_crs:
        raise ValueError(f"坐标系应为 / the coordinate system must be one of {spec.accepted_crs}")
    dsn, env = _pg_source(database_url)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="onemap-export-") as tmp:
        target = Path(tmp) / ("package.gpkg" if fmt == "gpkg" else "shp")
        if fmt != "gpkg":
            target.mkdir()
        for name, (columns, table, versioned) in LAYER_SQL.items():
            where = ""
            if versioned:
                where = (f" WHERE plan_version = '{version.replace(chr(39), '')}'" if version
                         else f" WHERE {in_force()}")
            # Transformed here, not by ogr2ogr, to repair what a projection bends.
            query = (f"SELECT id AS fid, {columns}, {transformed_polygons('geom', epsg)} AS geom "
                     f"FROM {table}{where} ORDER BY id")
            _ogr2ogr(dsn, env, target, fmt, name, ["-sql", query, "-nlt", "MULTIPOLYGON"])
        _write_indicators(dsn, env, target, fmt, indicator_rows(database_url, spec, version))
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "gpkg":
            shutil.move(target, out)
        else:
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(target.iterdir()):
                    archive.write(path, path.name)
    return out


def _ogr2ogr(dsn: str, env: dict[str, str], target: Path, fmt: str, name: str, extra: list[str]) -> None:
    driver = ["-f", "GPKG"] if fmt == "gpkg" else ["-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8"]
    cmd = ["ogr2ogr", *driver, str(target), dsn, "-nln", name, *extra]
    if fmt == "gpkg" and target.exists():
        cmd.append("-update")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"ogr2ogr {name}: {result.stderr.strip()}")


def _write_indicators(dsn: str, env: dict[str, str], target: Path, fmt: str,
                      rows: list[dict[str, object]]) -> None:
    """GHZB, a table without geometry, typed as the specification says."""
    def text(value: object) -> str:
        return "'" + str(value).replace("'", "''") + "'"

    values = ", ".join(f"({text(r['ZBBH'])}, {text(r['ZBMC'])}, {float(r['ZBZ'])!r}, {text(r['DW'])}, "
                       f"{text(r['ZBLX'])}, {text(r['XZQDM'])})" for r in rows)
    query = ('SELECT "ZBBH"::varchar(32), "ZBMC"::varchar(64), "ZBZ"::float8, "DW"::varchar(16), '
             '"ZBLX"::varchar(8), "XZQDM"::varchar(12) FROM (VALUES ' + values +
             ') AS t("ZBBH", "ZBMC", "ZBZ", "DW", "ZBLX", "XZQDM")')
    _ogr2ogr(dsn, env, target, fmt, "GHZB", ["-sql", query])
