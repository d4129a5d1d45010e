"""What supervision needs of the demo city, derived deterministically from
the loaded layers and the seed (nothing written in by hand):

* annual land-use changes 2020–2025 (年度变更): construction parcels that were
  cropland until the year they were built on, a few townships building much
  more than the rest;
* statistics per township and year 2019–2025 (population, urban population,
  GDP, water use), summed to counties and the city, loaded through the
  validated statistics import;
* targets for 2025 and 2035 allocated from the city to counties and
  townships (分解下达), from the 2019 state of each township.

Warnings and transmission violations then arise from computing the
indicators on these data.
"""

from __future__ import annotations

import csv
import io

import psycopg

from onemap.core.auth import Principal
from processes.supervision import catalogue, monitoring

DEMO = Principal("system:demo", "admin")
FIRST_YEAR, LAST_YEAR = 2019, 2025
# per mille of a township's construction parcels built on cropland in
# 2020–2025: every seventh township builds heavily, every fifth moderately
HEAVY, MODERATE, LIGHT = 60, 12, 2
# allocation of the 2019 state (cropland kept, construction allowed)
ALLOCATION = {("ZB04", 2025): 0.985, ("ZB04", 2035): 0.97, ("ZB05", 2025): 1.03, ("ZB05", 2035): 1.06}


def load(conn: psycopg.Connection, seed: int) -> dict[str, int]:
    """Replace the supervision demo data, in the caller's transaction."""
    conn.execute("TRUNCATE supervision.dltb_change, supervision.indicator_value, supervision.indicator_target")
    catalogue.sync(conn, DEMO.name)
    changes = _land_use_changes(conn, seed)
    values = monitoring.store_statistics(conn, _statistics_csv(conn), DEMO)
    targets = _targets(conn)
    return {"supervision.dltb_change": changes, "supervision.indicator_value": values,
            "supervision.indicator_target": targets}


def _land_use_changes(conn: psycopg.Connection, seed: int) -> int:
    return conn.execute("""
        WITH township AS (
            SELECT xzqdm, row_number() OVER (ORDER BY xzqdm) AS n FROM base.xzq WHERE xzqjb = '乡'),
        rate AS (
            SELECT xzqdm, CASE WHEN n %% 7 = 3 THEN %(heavy)s WHEN n %% 5 = 1 THEN %(moderate)s
                               ELSE %(light)s END AS per_mille FROM township)
        INSERT INTO supervision.dltb_change (dltb_id, year, dlbm_before, dlbm_after)
        SELECT d.id, 2020 + (d.id %% 6)::int, CASE WHEN d.id %% 3 = 0 THEN '0103' ELSE '0101' END, d.dlbm
        FROM base.dltb d JOIN rate r ON r.xzqdm = left(d.zldwdm, length(r.xzqdm))
        WHERE d.dlbm ~ '^(05|06|07|08)' AND abs(hashtext(d.bsm || %(seed)s::text)) %% 1000 < r.per_mille""",
                        {"heavy": HEAVY, "moderate": MODERATE, "light": LIGHT, "seed": seed}).rowcount


def _statistics_csv(conn: psycopg.Connection) -> str:
    """Population from each township's area and built-up share, growing a
    little each year; GDP and water use following it; sums upward."""
    rows = conn.execute("""
        WITH base AS (
            SELECT t.xzqdm, t.sjxzqdm AS county, c.sjxzqdm AS city, t.xzqmc LIKE '%%街道' AS street,
                   0.5 + t.mj / 1e6 * 0.02 AS population
            FROM base.xzq t JOIN base.xzq c ON c.xzqdm = t.sjxzqdm WHERE t.xzqjb = '乡'),
        yearly AS (
            SELECT b.*, y AS period, round((b.population * (1 + 0.008 * (y - %(first)s)))::numeric, 4) AS pop,
                   CASE WHEN street THEN 0.9 ELSE 0.3 + 0.015 * (y - %(first)s) END AS urban_share
            FROM base b, generate_series(%(first)s::int, %(last)s::int) y),
        township AS (
            SELECT xzqdm, county, city, period, pop, round(pop * urban_share::numeric, 4) AS urban,
                   round(pop * 5.5 * power(1.06, period - %(first)s)::numeric, 4) AS gdp,
                   round(pop * 0.0045 * power(0.99, period - %(first)s)::numeric, 6) AS water
            FROM yearly)
        SELECT unit, period, sum(pop), sum(urban), sum(gdp), sum(water) FROM (
            SELECT unnest(ARRAY[xzqdm, county, city]) AS unit, period, pop, urban, gdp, water FROM township) s
        GROUP BY unit, period ORDER BY unit, period""", {"first": FIRST_YEAR, "last": LAST_YEAR}).fetchall()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(monitoring.STATS_COLUMNS)
    for unit, period, pop, urban, gdp, water in rows:
        writer.writerow(("ZB15", unit, period, pop, "万人"))
        writer.writerow(("ZB16U", unit, period, urban, "万人"))
        writer.writerow(("TJ-GDP", unit, period, gdp, "亿元"))
        writer.writerow(("ZB02", unit, period, water, "亿m³"))
    return out.getvalue()


def _targets(conn: psycopg.Connection) -> int:
    """Township allocations from the 2019 values; a county's allocation and
    the city's target are the sums of theirs."""
    values = {(v.code, v.xzqdm): v.value for v in monitoring.compute(conn, FIRST_YEAR, sorted({c for c, _ in ALLOCATION}))}
    levels = dict(conn.execute("SELECT xzqdm, xzqjb FROM base.xzq").fetchall())
    parent = dict(conn.execute("SELECT xzqdm, sjxzqdm FROM base.xzq").fetchall())
    targets: dict[tuple[str, str, int], float] = {}
    for (code, year), share in ALLOCATION.items():
        for (c, xzqdm), value in values.items():
            if c == code and levels.get(xzqdm) == "乡":
                targets[code, xzqdm, year] = value * share
                for upper in (parent[xzqdm], parent[parent[xzqdm]]):
                    targets[code, upper, year] = targets.get((code, upper, year), 0.0) + value * share
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO supervision.indicator_target (code, xzqdm, target_year, value, recorded_by) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        [(code, xzqdm, year, value, DEMO.name) for (code, xzqdm, year), value in targets.items()])
    return len(targets)
