"""Benchmark: the raster maps at /mapproxy.

1. Seeding rate: `onemap tiles seed` (MapProxy's seeder, MapServer rendering
   from PostGIS) of GHYDYH on WebMercatorQuad, every tile re-rendered, in
   tiles/s.
2. WMTS throughput for cached tiles: GetTile (REST) of the seeded tiles
   through the gateway from 8 concurrent clients, against reading the same
   tile files straight from disk from 8 threads (the limit).
3. The same at HTTP rates (docs: shared anchors): wrk -t2 -c8 over 500 cached
   tiles, the gateway (staff token: the anonymous rate limit would answer
   429) against Debian's nginx serving the same files on loopback.
4. Sign-in's database work per request with a token: the one statement the
   gateway runs (accounts.access_state) against the two it ran before (the
   access version, then the token), from 8 connections.

    .venv/bin/python bench/maps.py            # against the `make up` stack

Environment: BENCH_REQUESTS (default 2000), BENCH_LEVELS (default 10-13).
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sys

import psycopg
import requests
from common import HEADER, env_int, run_load, run_wrk, stack_settings, start_nginx

from onemap.core import accounts, db
from onemap.core.accounts import create_token
from onemap.core.registry import load_layers
from onemap.maps.seed import parse_levels, seed, tile_dir
from onemap.stack import free_port

LAYER = "GHYDYH"
GRID = "WebMercatorQuad"
N_REQUESTS = env_int("BENCH_REQUESTS", 2000)
CONCURRENCY = 8


def main() -> None:
    settings = stack_settings()
    base = f"http://{settings.host}:{settings.port}"
    layers = load_layers(settings.config_dir / "layers.yaml")
    levels = parse_levels(os.environ.get("BENCH_LEVELS", "10-13"))

    print(f"== seeding {LAYER} {GRID} levels {levels[0]}-{levels[1]} (every tile re-rendered, 2 workers)")
    report = seed(settings, layers, LAYER, levels, db.layer_extents(settings.database_url, layers),
                  [GRID], concurrency=2, refresh=True, out=io.StringIO())
    print(f"seeded {report.tiles} tiles in {report.seconds:.1f} s: {report.rate:.1f} tiles/s")

    directory = tile_dir(settings, f"{LAYER}_cache", GRID) / str(levels[1])
    files = sorted(directory.rglob("*.png"))
    if not files:
        sys.exit(f"no tiles under {directory}")
    tiles = [(levels[1], int(f.parent.name), int(f.stem), f) for f in files]
    rng = random.Random(1)
    tasks = [rng.choice(tiles) for _ in range(N_REQUESTS)]

    # correctness first: the gateway serves the very files
    token = create_token(settings.database_url, "staff", "bench-maps")
    with requests.Session() as http:
        for z, x, y, path in tiles[:20]:
            body = http.get(f"{base}/mapproxy/wmts/{LAYER}/{GRID}/{z}/{x}/{y}.png", timeout=60).content
            assert body == path.read_bytes(), f"{z}/{x}/{y}: gateway tile differs from the cached file"

    def signed_in() -> requests.Session:  # anonymous: the rate limit would answer 429
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session

    def gateway(session: requests.Session, task: tuple) -> None:
        z, x, y, _ = task
        r = session.get(f"{base}/mapproxy/wmts/{LAYER}/{GRID}/{z}/{x}/{y}.png", timeout=60)
        if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
            raise RuntimeError(f"HTTP {r.status_code}")

    def disk(_state: object, task: tuple) -> None:
        with open(task[3], "rb") as f:
            f.read()

    print(f"\n== {len(tasks)} GetTile requests of {len(files)} cached level-{levels[1]} tiles, "
          f"{CONCURRENCY} clients")
    print(HEADER)
    via_gateway = run_load("WMTS REST via gateway", tasks, gateway, signed_in, CONCURRENCY)
    print(via_gateway.row())
    from_disk = run_load("same files read from disk (limit)", tasks, disk, object, CONCURRENCY)
    print(from_disk.row())
    print(f"\nratio gateway / disk: {via_gateway.rps / from_disk.rps:.3f} of the requests/s, "
          f"p50 {via_gateway.pct(50) / from_disk.pct(50):.0f} x the latency")
    http_limit(settings, base, tiles, token)
    sign_in_statements(settings, token)
    print(f"seeding: {report.rate:.1f} tiles/s ({report.tiles} tiles, {report.seconds:.1f} s); "
          f"serving cached: {via_gateway.rps:.0f} tiles/s = {via_gateway.rps / max(report.rate, 1e-9):.0f} x seeding")


def sign_in_statements(settings, token: str) -> None:
    """Sign-in's statements for a token, as the gateway runs them now and before."""
    tasks = [token] * N_REQUESTS * 2

    def connection() -> psycopg.Connection:
        return psycopg.connect(settings.database_url, autocommit=True)

    def one_statement(conn: psycopg.Connection, token: str) -> None:
        if accounts.access_state(conn, token=token).token is None:
            raise RuntimeError("token not found")

    def two_statements(conn: psycopg.Connection, token: str) -> None:
        accounts.version(conn)
        if accounts.lookup_token(conn, token) is None:
            raise RuntimeError("token not found")

    print(f"\n== sign-in's database work per request, {len(tasks)} requests, {CONCURRENCY} connections")
    print(HEADER)
    now = run_load("access_state (1 statement)", tasks, one_statement, connection, CONCURRENCY)
    print(now.row())
    before = run_load("version + lookup_token (2)", tasks, two_statements, connection, CONCURRENCY)
    print(before.row())
    print(f"ratio one statement / two: {now.rps / before.rps:.2f} x the requests/s, "
          f"p50 {now.pct(50) / before.pct(50):.2f} x the latency")


def http_limit(settings, base: str, tiles: list[tuple], token: str) -> None:
    """wrk against the gateway and against nginx on the same tile files."""
    if not (shutil.which("wrk") and shutil.which("nginx")):
        sys.exit("wrk and nginx are needed (scripts/bootstrap installs them)")
    prefix = f"/mapproxy/wmts/{LAYER}/{GRID}/"
    paths = [f"{prefix}{z}/{x}/{y}.png" for z, x, y, _ in tiles[:500]]
    port = free_port()
    nginx = start_nginx(port, {prefix: tile_dir(settings, f"{LAYER}_cache", GRID)})
    try:
        print(f"\n== wrk -t2 -c8 -d15s over {len(paths)} cached tiles "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(HEADER)
        static = run_wrk("nginx, same files", f"http://127.0.0.1:{port}", paths)
        print(static.row())
        ours = run_wrk("gateway /mapproxy/wmts (token)", base, paths, {"Authorization": f"Bearer {token}"})
        print(ours.row())
    finally:
        nginx.terminate()
        nginx.wait()
    print(f"ratio gateway / nginx: {ours.rps / static.rps:.3f} of the requests/s")


if __name__ == "__main__":
    main()
