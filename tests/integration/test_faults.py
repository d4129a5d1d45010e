"""Faults of a backend: with the catalogue (pycsw) down, /healthz says so and
names it, CSW answers a bilingual 503 with Retry-After, and everything else
still works; started again, the catalogue answers as before."""

from __future__ import annotations

import time

import pytest
import requests

from catalogue import service as catalogue
from onemap.core.settings import Settings

HANG_GUARD_S = 600


@pytest.mark.stops_a_backend
def test_the_rest_works_while_the_catalogue_is_down(base_url, ogc_url):
    settings = Settings.from_env()
    port = catalogue.running_port(settings)
    assert port, "the test stack runs pycsw"
    csw = {"service": "CSW", "version": "2.0.2", "request": "GetCapabilities"}
    assert requests.get(f"{base_url}/csw", params=csw, timeout=60).status_code == 200
    assert catalogue.stop(settings)
    try:
        r = requests.get(f"{base_url}/csw", params=csw, timeout=60)
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert "pycsw" in r.text
        health = requests.get(f"{base_url}/healthz", timeout=60)
        assert health.status_code == 503
        components = health.json()["components"]
        down = {name for name, c in components.items() if c["status"] != "up"}
        assert down == {"pycsw-public", "pycsw-internal"}, components
        items = requests.get(f"{ogc_url}/collections/XZQ/items", params={"f": "json", "limit": 2}, timeout=60)
        assert items.status_code == 200 and len(items.json()["features"]) == 2
        tile = requests.get(f"{base_url}/mapproxy/wmts/XZQ/WebMercatorQuad/0/0/0.png", timeout=60)
        assert tile.status_code == 200 and tile.headers["Content-Type"] == "image/png"
    finally:
        catalogue.start(settings, print, port)
    deadline = time.monotonic() + HANG_GUARD_S
    while requests.get(f"{base_url}/healthz", timeout=60).status_code != 200:
        assert time.monotonic() < deadline, "the stack did not become healthy again"
        time.sleep(0.5)
    assert requests.get(f"{base_url}/csw", params=csw, timeout=60).status_code == 200
