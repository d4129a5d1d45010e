"""Benchmark: every model-computed indicator of both systems for the city,
its counties and its townships for one year, as the system computes them
(each layer measured once for all townships in one statement, rolled up),
against a straightforward per-unit SQL loop (one query per indicator and
unit, the features cut by that unit); prints both, the ratio, and the
largest difference between the two sets of values.

    DATABASE_URL=… .venv/bin/python bench/supervision.py [YEAR]

The scale is the loaded demo's: for the issue's city scale (about 1M
parcels), `onemap demo load --scale city` into a database of its own first
(not on a shared machine: the load and the loop take a long while).

Ratios (counts, statistics) are computed from the same measured areas in
both paths; only the measuring differs.
"""

from __future__ import annotations

import os
import sys
import time

import psycopg
from psycopg import sql

from onemap.core.registry import load_layers
from processes.supervision import catalogue, monitoring
from processes.supervision.models import AREA_UNITS, active_models, features_of_year


def per_unit_loop(conn: psycopg.Connection, year: int) -> dict[tuple[str, str], float]:
    """One query per class-area indicator and unit: the unit's features of
    the classes, cut by the unit, on the ellipsoid."""
    layers = {layer.id: layer for layer in load_layers()}
    models = active_models(conn)
    units = [r[0] for r in conn.execute("SELECT xzqdm FROM base.xzq ORDER BY xzqdm")]
    out = {}
    for code, unit, model in conn.execute("SELECT code, unit, model FROM supervision.indicator "
                                          "WHERE model IS NOT NULL ORDER BY code").fetchall():
        version = models[model]
        if version.kind != "class_area":
            continue
        features, params, _ = features_of_year(conn, layers[version.params["layer"]], year)
        prefixes = [f"{c}%" for c in version.params.get("classes") or [""]]
        query = sql.SQL("""
            WITH f AS ({features}), u AS (SELECT geom FROM base.xzq WHERE xzqdm = %s)
            SELECT coalesce(sum(ST_Area(ST_Intersection(f.geom, u.geom)::geography)), 0)
            FROM f, u WHERE f.code LIKE ANY(%s) AND f.geom && u.geom AND ST_Intersects(f.geom, u.geom)""").format(
            features=features)
        for xzqdm in units:
            m2 = conn.execute(query, [*params, xzqdm, prefixes]).fetchone()[0]
            out[code, xzqdm] = m2 * AREA_UNITS.get(unit, 1.0)
    return out


def main() -> None:
    year = int(sys.argv[1]) if len(sys.argv) > 1 else 2025
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        catalogue.sync(conn, "bench")
        parcels = conn.execute("SELECT count(*) FROM base.dltb").fetchone()[0]
        units = conn.execute("SELECT count(*) FROM base.xzq").fetchone()[0]
        started = time.perf_counter()
        values = monitoring.compute(conn, year)
        ours = time.perf_counter() - started
        area_codes = {c for c, in conn.execute(
            "SELECT i.code FROM supervision.indicator i JOIN supervision.model_version m "
            "ON m.model = i.model AND m.active WHERE m.kind = 'class_area'")}
        started = time.perf_counter()
        loop = per_unit_loop(conn, year)
        looped = time.perf_counter() - started
    computed = {(v.code, v.xzqdm): v.value for v in values if v.code in area_codes}
    worst = max(abs(computed.get(k, 0.0) - v) / max(abs(v), 1e-9) for k, v in loop.items() if v)
    print(f"{parcels} parcels, {units} units, year {year}")
    print(f"system (one statement per layer, all units): {len(values):>6} values  {ours:8.2f} s")
    print(f"per-unit SQL loop (class areas only):        {len(loop):>6} values  {looped:8.2f} s")
    print(f"ratio loop / system: {looped / ours:.1f}×; largest relative difference {worst:.2e}")


if __name__ == "__main__":
    main()
