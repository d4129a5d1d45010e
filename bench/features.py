"""Benchmark: OGC API Features items (bbox, pages of 100) and vector tiles
(z12, z14) of DLTB at city scale, from 8 concurrent clients, against tipg
on the same database and against the raw SQL through psycopg.

    .venv/bin/python bench/features.py            # against the `make up` stack

Loads the city-scale demo (about 1,000,000 DLTB parcels) first when the
database holds less. Prints requests/s, p50/p95 latency and the ratios.
Targets: no slower than tipg; vector tiles within 2x of the raw SQL.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import time

import psycopg
import requests
from common import HEADER, ROOT, Result, env_int, run_load, stack_settings, tipg_python, wait_http

from onemap import stack
from onemap.core.accounts import create_token

N_REQUESTS = env_int("BENCH_REQUESTS", 400)
CONCURRENCY = 8
PAGE = 100


def ensure_city(settings, url: str) -> int:
    with psycopg.connect(url) as conn:
        n = conn.execute("SELECT count(*) FROM base.dltb").fetchone()[0]
    if n < 500_000:
        print(f"DLTB has {n} rows: loading the city-scale demo (a few minutes)...")
        stack.load_demo(url, "city", 1, print)
        stack.generate_config(settings, url)
        stack.start_gateway(settings, url, print)
        with psycopg.connect(url) as conn:
            n = conn.execute("SELECT count(*) FROM base.dltb").fetchone()[0]
    return n


def sample_points(url: str, n: int, seed: int = 7) -> list[tuple[float, float]]:
    """Random points on land inside townships (where parcels are)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, %s, %s))).geom p "
            "FROM base.xzq WHERE xzqjb = '市') s", (n, seed)).fetchall()
    return [(float(x), float(y)) for x, y in rows]


def bbox_around(lon: float, lat: float, half: float = 0.01) -> tuple[float, float, float, float]:
    return (round(lon - half, 6), round(lat - half, 6), round(lon + half, 6), round(lat + half, 6))


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def http_worker(headers: dict[str, str]):
    def make() -> requests.Session:
        s = requests.Session()
        s.headers.update(headers)
        return s

    def work(session: requests.Session, url: str) -> None:
        r = session.get(url, timeout=120)
        if r.status_code not in (200, 204):
            raise RuntimeError(f"HTTP {r.status_code} {url}: {r.text[:200]}")
        _ = r.content
    return make, work


ITEMS_SQL = ("SELECT id, bsm, tbbh, dlbm, dlmc, tbmj, zldwdm, ST_AsGeoJSON(geom, 9, 0) FROM base.dltb "
             "WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4490)) ORDER BY id LIMIT 100")
COUNT_SQL = "SELECT count(*) FROM base.dltb WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4490))"
MVT_SQL = """
WITH bounds AS (SELECT ST_TileEnvelope(%s, %s, %s) AS b),
mvtrow AS (
  SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), bounds.b) AS mvtgeom,
         t.id, t.bsm, t.tbbh, t.dlbm, t.dlmc, t.tbmj, t.zldwdm
  FROM base.dltb t, bounds
  WHERE t.geom && ST_Transform(bounds.b, 4490) AND ST_Intersects(t.geom, ST_Transform(bounds.b, 4490)))
SELECT ST_AsMVT(mvtrow, 'dltb') FROM mvtrow"""


def sql_worker(url: str, kind: str):
    def make() -> psycopg.Connection:
        return psycopg.connect(url, autocommit=True)

    def work(conn: psycopg.Connection, task: tuple) -> None:
        if kind == "items":
            conn.execute(COUNT_SQL, task).fetchone()
            conn.execute(ITEMS_SQL, task).fetchall()
        else:
            conn.execute(MVT_SQL, task).fetchone()
    return make, work


def start_tipg(url: str) -> tuple[subprocess.Popen, str]:
    bin_dir = tipg_python()
    port = stack.free_port()
    workers = str(stack_settings().gateway["gunicorn"]["workers"])
    env = {**os.environ, "DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["base"]',
           "TIPG_DB_TABLES": '["base.dltb"]', "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
    proc = subprocess.Popen([str(bin_dir / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", workers, "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", 120)
    return proc, base


def main() -> None:
    settings = stack_settings()
    url = settings.database_url
    if not stack.gateway_pid(settings):
        sys.exit("start the stack first: make up")
    n = ensure_city(settings, url)
    print(f"DLTB parcels: {n:,}; {N_REQUESTS} requests per case, {CONCURRENCY} concurrent clients")
    token = create_token(url, "staff", "bench-features")
    ours = {"Authorization": f"Bearer {token}"}
    points = sample_points(url, N_REQUESTS)
    random.Random(3).shuffle(points)
    bboxes = [bbox_around(*p) for p in points]
    tipg_proc, tipg = start_tipg(url)
    results: dict[str, Result] = {}
    try:
        base = f"{settings.base_url}/ogc/collections/DLTB"
        cases = {
            "items": (
                [f"{base}/items?f=json&limit={PAGE}&bbox={','.join(map(str, b))}" for b in bboxes],
                [f"{tipg}/collections/base.dltb/items?f=geojson&limit={PAGE}&bbox={','.join(map(str, b))}"
                 for b in bboxes],
                bboxes),
        }
        for z in (12, 14):
            tiles = [tile_of(lon, lat, z) for lon, lat in points]
            cases[f"tiles z{z}"] = (
                [f"{base}/tiles/WebMercatorQuad/{tz}/{ty}/{tx}?f=mvt" for tz, tx, ty in tiles],
                [f"{tipg}/collections/base.dltb/tiles/WebMercatorQuad/{tz}/{tx}/{ty}" for tz, tx, ty in tiles],
                tiles)
        for case, (our_urls, tipg_urls, sql_tasks) in cases.items():
            make, work = http_worker(ours)
            results[f"onemap {case}"] = run_load(f"onemap {case}", our_urls, work, make, CONCURRENCY)
            make, work = http_worker({})
            results[f"tipg {case}"] = run_load(f"tipg {case}", tipg_urls, work, make, CONCURRENCY)
            make, work = sql_worker(url, "items" if case == "items" else "tiles")
            results[f"raw SQL {case}"] = run_load(f"raw SQL {case}", sql_tasks, work, make, CONCURRENCY)
    finally:
        tipg_proc.terminate()
        tipg_proc.wait(10)
    print()
    print(HEADER)
    for r in results.values():
        print(r.row())
    print()
    print("ratios (onemap / peer; throughput >1 is faster, p95 <1 is faster):")
    for case in cases:
        ours_r = results[f"onemap {case}"]
        for peer in ("tipg", "raw SQL"):
            other = results[f"{peer} {case}"]
            print(f"  {case:<10} vs {peer:<8} throughput x{ours_r.rps / other.rps:5.2f}   "
                  f"p50 x{ours_r.pct(50) / other.pct(50):5.2f}   p95 x{ours_r.pct(95) / other.pct(95):5.2f}")
    print(f"\n(measured {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, repository {ROOT})")


if __name__ == "__main__":
    main()
