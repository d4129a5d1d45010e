"""Benchmark: what sign-in costs per request. Vector tiles of one layer
(GHYDYH, z8 around the city) from 8 concurrent clients, as QGIS asks for
them: anonymous (the floor), Bearer token, HTTP Basic with a token as the
password, HTTP Basic with a user's password (Argon2, verified once and then
remembered per worker); and one Argon2 verification in process, which every
Basic request would pay without that memory. The cases run twice, in
turn; the second round is reported (the first warms the database's cache).

    .venv/bin/python bench/signin.py            # against the `make up` stack

Prints requests/s, p50/p95 latency and the ratios to anonymous.
"""

from __future__ import annotations

import base64
import time
import uuid

import psycopg
import requests
from argon2 import PasswordHasher
from common import HEADER, Result, env_int, run_load, stack_settings

from onemap.core import accounts
from onemap.core.accounts import AccountSettings, create_token

N_REQUESTS = env_int("BENCH_REQUESTS", 400)
PASSWORD = "bench-Password-1"
TILES = [(8, x, y) for x in range(206, 210) for y in range(104, 108)]


def main() -> None:
    settings = stack_settings()
    url = settings.database_url
    base = settings.base_url
    name = f"bench-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url) as conn:
        accounts.create_account(conn, {"name": name, "password": PASSWORD, "roles": ["staff"]},
                                accounts.role_names(conn, settings.gateway),
                                AccountSettings.from_gateway(settings.gateway))
    token = create_token(url, "staff", f"{name}-token")

    def basic(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    cases = [("anonymous", {}),
             ("Bearer token", {"Authorization": f"Bearer {token}"}),
             ("Basic, token as password", basic("qgis", token)),
             ("Basic, user password (cached)", basic(name, PASSWORD))]
    tasks = [TILES[i % len(TILES)] for i in range(N_REQUESTS)]
    for _round in ("warm-up", "measured"):
        results: list[Result] = []
        for label, headers in cases:
            def fetch(session: requests.Session, tile: tuple[int, int, int], headers=headers) -> None:
                z, x, y = tile
                r = session.get(f"{base}/ogc/collections/GHYDYH/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt",
                                headers=headers, timeout=60)
                if r.status_code not in (200, 204):
                    raise RuntimeError(f"{r.status_code} {r.text[:120]}")
            results.append(run_load(label, tasks, fetch, requests.Session))
    print(HEADER)
    for result in results:
        print(result.row())
    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    started = time.perf_counter()
    for _ in range(20):
        hasher.verify(stored, PASSWORD)
    argon2_ms = (time.perf_counter() - started) / 20 * 1000
    floor = results[0].pct(50)
    print(f"\nArgon2 verification in process: {argon2_ms:.1f} ms (what an uncached Basic request adds)")
    for result in results[1:]:
        print(f"{result.name:<34} p50 {result.pct(50) / floor:.2f}x anonymous")


if __name__ == "__main__":
    main()
