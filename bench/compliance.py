"""Benchmark: the compliance check (用地预审 rule set) on 200 random project
boundaries of 1 to 50 ha at city scale, through the gateway:

* the synchronous JSON result, one client (latency) and 8 concurrent clients
  (throughput);
* the synchronous PDF report (outputs = report_pdf), one client;
* against the raw PostGIS statements the check runs (area and city test,
  the overlay of every rule) through psycopg, same boundaries;
* against a geopandas overlay script on the same layers read from a
  GeoPackage (what an analyst would otherwise script), in a bench-only
  virtualenv under var/bench.

    .venv/bin/python bench/compliance.py           # against the `make up` stack

Loads the city-scale demo first when DLTB holds fewer than 500,000 parcels
(BENCH_ANY_SCALE=1: runs on whatever is loaded, for a quick look).
Targets (issue 14): JSON p95 <= 50 ms at 1 client and >= 80 req/s at 8
clients; PDF p95 <= 0.8 s. Prints the figures and the ratios, met or not.
BENCH_GEOPANDAS=0 leaves out the geopandas peer (its GeoPackage export and
virtualenv take minutes at city scale; the raw statements are the row's peer).
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time

import psycopg
import pyproj
import requests
import shapely
from common import HEADER, ROOT, Result, env_int, run_load, stack_settings
from features import ensure_city

from onemap.core.accounts import create_token
from processes.compliance.boundary import Boundary
from processes.compliance.check import load_config, measure
from processes.compliance.overlay import overlay

N = env_int("BENCH_BOUNDARIES", 200)
N_PDF = env_int("BENCH_PDF", 60)
CONCURRENCY = 8
STAGE, USE = "用地预审", "1001"
GPKG_LAYERS = ["XZQ", "STBHHX", "YJJBNT", "CZKFBJ", "GHYDYH", "LSWHBHX", "DZZHD", "DLTB"]


def boundaries(url: str, n: int, seed: int = 11) -> list[dict]:
    """n rotated rectangles of 1-50 ha at random points of the city."""
    rng = random.Random(seed)
    with psycopg.connect(url) as conn:
        points = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(ST_Buffer(geom, -0.01), %s, %s))).geom p "
            "FROM base.xzq WHERE xzqjb = '市') s", (n, seed)).fetchall()
    to_lonlat = pyproj.Transformer.from_crs(4546, 4490, always_xy=True)
    to_gk = pyproj.Transformer.from_crs(4490, 4546, always_xy=True)
    out = []
    for lon, lat in points:
        area = rng.uniform(1, 50) * 10_000
        aspect = rng.uniform(0.5, 2.0)
        w, h = math.sqrt(area * aspect), math.sqrt(area / aspect)
        x, y = to_gk.transform(lon, lat)
        rect = shapely.affinity.rotate(shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), rng.uniform(0, 90))
        out.append(shapely.geometry.mapping(shapely.transform(rect, to_lonlat.transform, interleaved=False)))
    return out


def gateway_worker(base: str, token: str, outputs: dict):
    def make() -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        return s

    def work(session: requests.Session, geometry: dict) -> None:
        r = session.post(f"{base}/ogc/processes/compliance-check/execution", timeout=300,
                         json={"inputs": {"boundary": geometry, "stage": STAGE, "use_code": USE,
                                          "case_id": "BENCH"}, "outputs": outputs})
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
        _ = r.content
    return make, work


def raw_worker(url: str):
    """The statements of a check, straight through psycopg: the floor."""
    config = load_config()
    rule_set = next(r for r in config.rule_sets.values() if STAGE in r.stages)
    rules = [r for r in rule_set.rules if r.applies_to(USE)]

    def make() -> psycopg.Connection:
        return psycopg.connect(url, autocommit=True)

    def work(conn: psycopg.Connection, geometry: dict) -> None:
        shape = shapely.geometry.shape(geometry)
        b = Boundary(geometry=shapely.MultiPolygon([shape]), source_format="GeoJSON", source_epsg=4326, parcels=[])
        measure(conn, b, config)
        overlay(conn, b.geometry.wkb, rules, config.layers, max_lat=shape.bounds[3])
    return make, work


def geopandas_python() -> str:
    venv = ROOT / "var" / "bench" / "geopandas-venv"
    if not (venv / "bin" / "python").exists():
        print("installing geopandas into", venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "geopandas", "pyogrio", "pyproj"], check=True)
    return str(venv / "bin" / "python")


def export_gpkg(url: str, dltb_rows: int) -> str:
    """The layers the rule set reads, as a GeoPackage (plan layers: in force)."""
    path = ROOT / "var" / "bench" / f"compliance-{dltb_rows}.gpkg"
    if path.exists():
        return str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layers = {layer.id: layer for layer in load_config().layers.values()}
    for name in GPKG_LAYERS:
        layer = layers[name]
        where = " WHERE valid_to IS NULL" if layer.versioned else ""
        cols = ", ".join([*layer.key_fields, "geom"])
        subprocess.run(["ogr2ogr", "-f", "GPKG", "-append", "-nln", name, str(path), f"PG:{pg_dsn(url)}",
                        "-sql", f"SELECT {cols} FROM {layer.table}{where}"], check=True)
    return str(path)


def pg_dsn(url: str) -> str:
    parsed = psycopg.conninfo.conninfo_to_dict(url)
    return " ".join(f"{k}={v}" for k, v in parsed.items())


def main() -> None:
    settings = stack_settings()
    url = settings.database_url
    if os.environ.get("BENCH_ANY_SCALE"):
        with psycopg.connect(url) as conn:
            dltb = conn.execute("SELECT count(*) FROM base.dltb").fetchone()[0]
    else:
        dltb = ensure_city(settings, url)
    base = settings.base_url
    token = create_token(url, "egov", "bench-compliance")
    shapes = boundaries(url, N)
    print(f"compliance-check ({STAGE}, use {USE}): {len(shapes)} boundaries of 1-50 ha, DLTB {dltb:,} rows")
    results: list[Result] = []
    make, work = gateway_worker(base, token, {"result": {}})
    results.append(run_load("JSON result, 1 client", shapes, work, make, concurrency=1))
    results.append(run_load(f"JSON result, {CONCURRENCY} clients", shapes, work, make, concurrency=CONCURRENCY))
    make, work = gateway_worker(base, token, {"report_pdf": {}})
    results.append(run_load("PDF report, 1 client", shapes[:N_PDF], work, make, concurrency=1))
    make, work = raw_worker(url)
    results.append(run_load("raw PostGIS statements, 1 client", shapes, work, make, concurrency=1))
    results.append(run_load(f"raw PostGIS, {CONCURRENCY} clients", shapes, work, make, concurrency=CONCURRENCY))

    peer = None
    if os.environ.get("BENCH_GEOPANDAS", "1") != "0":
        gpkg = export_gpkg(url, dltb)
        (ROOT / "var" / "bench" / "boundaries.json").write_text(json.dumps(shapes))
        started = time.perf_counter()
        peer = json.loads(subprocess.run([geopandas_python(), str(ROOT / "bench" / "compliance_geopandas.py"), gpkg,
                                          str(ROOT / "var" / "bench" / "boundaries.json")],
                                         capture_output=True, text=True, check=True).stdout)
        print(f"geopandas script: {time.perf_counter() - started:.1f} s in all")
        results.append(Result("geopandas overlay, 1 process", peer["latencies"], sum(peer["latencies"]), 0))

    print(HEADER)
    for result in results:
        print(result.row())
    json1, json8, pdf, raw1, raw8 = results[:5]
    print(f"JSON 1 client p50 {json1.pct(50):.1f} / p95 {json1.pct(95):.1f} ms (target p95 <= 50 ms: "
          f"{'met' if json1.pct(95) <= 50 else 'MISSED'}); {CONCURRENCY} clients {json8.rps:.1f} req/s "
          f"(target >= 80: {'met' if json8.rps >= 80 else 'MISSED'}); PDF p95 {pdf.pct(95):.0f} ms "
          f"(target 800 ms: {'met' if pdf.pct(95) <= 800 else 'MISSED'})")
    print(f"ratio JSON / raw PostGIS, p50: {json1.pct(50) / raw1.pct(50):.2f}x; "
          f"throughput {json8.rps / raw8.rps:.2f}x of the raw statements at {CONCURRENCY} clients")
    if peer is not None:
        gpd = results[5]
        print(f"geopandas: reading the {len(GPKG_LAYERS)} layers from the GeoPackage took {peer['load_s']:.1f} s "
              f"(not in its per-boundary figures)")
        print(f"ratio geopandas / JSON, p50: {gpd.pct(50) / json1.pct(50):.2f}x "
              f"(geopandas per boundary, layers already in memory)")
        print(f"geopandas: planned-land (GHYDYH) overlap summed over all boundaries {peer['ghydyh_m2']:,.0f} m² "
              f"(planar EPSG:4546)")
    print(f"(measured {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
