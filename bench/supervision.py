"""Benchmark: every model-computed indicator of both systems for the city,
its counties and its townships for one year, as the system computes them
(each layer measured once for all townships in one statement, rolled up),
against a straightforward per-unit SQL loop (one query per indicator and
unit, the features cut by that unit); prints both, the ratio, and the
largest difference between the two sets of values.

    DATABASE_URL=… .venv/bin/python bench/supervision.py [YEAR] [--sample K]

The scale is the loaded demo's: for the issue's city scale (about 1M
parcels), `onemap demo load --scale city` into a database of its own first
(not on a shared machine: the load and the loop take a long while).

At city scale the loop over all 93 units takes the better part of an hour
(it cuts every parcel with the city, then with its county, then with its
township, once per indicator). `--sample K` runs it over K townships spread
through the list and prints the time of that sample, and an estimate for
all units: the sample's time per parcel the loop touched, times the parcels
the whole loop touches (each unit's parcels counted, as the loop cuts them
once per unit). The estimate is labelled as one.

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


def per_unit_loop(conn: psycopg.Connection, year: int, units: list[str]) -> dict[tuple[str, str], float]:
    """One query per class-area indicator and unit: the unit's features of
    the classes, cut by the unit, on the ellipsoid."""
    layers = {layer.id: layer for layer in load_layers()}
    models = active_models(conn)
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


def parcels_touched(conn: psycopg.Connection, units: list[str]) -> int:
    """Parcels the loop reads for these units (those whose box meets the unit's)."""
    return sum(conn.execute("SELECT count(*) FROM base.dltb d, base.xzq u WHERE u.xzqdm = %s AND d.geom && u.geom",
                            (u,)).fetchone()[0] for u in units)


def main() -> None:
    args = sys.argv[1:]
    sample = int(args[args.index("--sample") + 1]) if "--sample" in args else None
    if sample is not None:
        del args[args.index("--sample"):args.index("--sample") + 2]
    year = int(args[0]) if args else 2025
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        catalogue.sync(conn, "bench")
        parcels = conn.execute("SELECT count(*) FROM base.dltb").fetchone()[0]
        unit_count = conn.execute("SELECT count(*) FROM base.xzq").fetchone()[0]
        started = time.perf_counter()
        values = monitoring.compute(conn, year)
        ours = time.perf_counter() - started
        area_codes = {c for c, in conn.execute(
            "SELECT i.code FROM supervision.indicator i JOIN supervision.model_version m "
            "ON m.model = i.model AND m.active WHERE m.kind = 'class_area'")}
        units = [r[0] for r in conn.execute("SELECT xzqdm FROM base.xzq ORDER BY xzqdm")]
        looped_units = units
        if sample is not None:
            townships = [r[0] for r in conn.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡' ORDER BY xzqdm")]
            looped_units = townships[::max(1, len(townships) // sample)][:sample]
        started = time.perf_counter()
        loop = per_unit_loop(conn, year, looped_units)
        looped = time.perf_counter() - started
        if sample is not None:
            share = parcels_touched(conn, looped_units) / parcels_touched(conn, units)
    computed = {(v.code, v.xzqdm): v.value for v in values if v.code in area_codes}
    worst = max(abs(computed.get(k, 0.0) - v) / max(abs(v), 1e-9) for k, v in loop.items() if v)
    print(f"{parcels} parcels, {unit_count} units, year {year}")
    print(f"system (one statement per layer, all units): {len(values):>6} values  {ours:8.2f} s")
    if sample is None:
        print(f"per-unit SQL loop (class areas only):        {len(loop):>6} values  {looped:8.2f} s")
        print(f"ratio loop / system: {looped / ours:.1f}×; largest relative difference {worst:.2e}")
    else:
        estimate = looped / share
        print(f"per-unit SQL loop, {len(looped_units)} of {len(units)} units (class areas only): {len(loop):>6} values "
              f"{looped:8.2f} s ({share:.1%} of the parcels the whole loop reads)")
        print(f"per-unit SQL loop, all units: ESTIMATED {estimate:8.2f} s (sample time / that share)")
        print(f"ratio estimated loop / system: {estimate / ours:.1f}×; largest relative difference over the sample "
              f"{worst:.2e}")


if __name__ == "__main__":
    main()
