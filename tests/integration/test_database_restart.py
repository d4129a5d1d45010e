"""A restart of PostgreSQL under load: while it lasts, clients get 200 or a
503 with Retry-After (never a 4xx that blames their request, never a 500);
once it is back, every route and every pool answers 200 at once."""

from __future__ import annotations

import os
import threading

import pytest
import requests

from onemap import localdb
from onemap.core.settings import Settings
from tests.conftest import auth


def _routes(base_url: str, ogc_url: str, tokens: dict[str, str]) -> list[tuple[str, str, dict]]:
    staff = auth(tokens["staff"])
    return [
        ("GET", f"{ogc_url}/collections/XZQ/items?f=json&limit=5", {}),                       # pygeoapi, public
        ("GET", f"{ogc_url}/collections/STBHHX/items?f=json&limit=5", staff),                 # gateway auth pool
        ("GET", f"{ogc_url}/collections/XZQ/items/1?f=json", {}),                             # single item
        ("GET", f"{ogc_url}/collections/GHYDYH/tiles/WebMercatorQuad/12/3283/1707?f=mvt", {}),  # tiles
        ("GET", f"{ogc_url}/collections/catalogue/items?f=json&limit=2", {}),                 # records pool
        ("GET", f"{ogc_url}/jobs?f=json&limit=2", staff),                                     # job manager
        ("POST", f"{ogc_url}/processes/plan-history/execution", staff),                       # processes, audit
        ("GET", f"{base_url}/csw?service=CSW&version=2.0.2&request=GetRecords&typeNames=csw:Record"
                "&resultType=hits&elementSetName=brief", {}),                                   # pycsw
    ]


def _call(method: str, url: str, headers: dict) -> requests.Response:
    if method == "POST":
        return requests.post(url, json={"inputs": {}}, headers=headers, timeout=60)
    return requests.get(url, headers=headers, timeout=60)


@pytest.mark.restarts_database
def test_statuses_during_and_after_a_database_restart(base_url, ogc_url, tokens):
    routes = _routes(base_url, ogc_url, tokens)
    for method, url, headers in routes:  # all fine before
        r = _call(method, url, headers)
        assert r.status_code in (200, 204), (url, r.status_code, r.text[:200])
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the private cluster `onemap test` runs
    settings = Settings.from_env(env)
    seen: list[tuple[str, int, str]] = []
    done = threading.Event()

    def load() -> None:
        while not done.is_set():
            for method, url, headers in routes:
                r = _call(method, url, headers)
                seen.append((url, r.status_code, r.headers.get("Retry-After", ""), r.text[:300],
                             r.headers.get("X-Request-Id")))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        localdb.restart(settings)
    finally:
        done.set()
        for worker in workers:
            worker.join()
    odd = [(url, status, body) for url, status, _, body, _ in seen if status not in (200, 204, 503)]
    assert not odd, odd
    assert all(retry for _, status, retry, _, _ in seen if status == 503)
    # back: every route, several times over (more than any pool holds), answers at once
    for _ in range(3):
        for method, url, headers in routes:
            r = _call(method, url, headers)
            assert r.status_code in (200, 204), (url, r.status_code, r.text[:300])
    # each database fault answered is in the logs as an error, with its request id
    for request_id in [rid for _, status, _, _, rid in seen if status == 503][:5]:
        lines = requests.get(f"{base_url}/admin/logs", params={"request_id": request_id, "level": "error"},
                             headers=auth(tokens["admin"]), timeout=60).json()["lines"]
        assert any(line.get("status") == 503 for line in lines), (request_id, lines)
