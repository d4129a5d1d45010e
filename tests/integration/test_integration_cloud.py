"""The spatio-temporal cloud stood in by a second MapProxy serving generated
tiles (its debug source) on loopback: configured by URL, its basemap
renders through our MapProxy in EPSG:3857 and EPSG:4490; with it stopped,
the map still answers and /healthz reports the source down while the
gateway stays up."""

from __future__ import annotations

import io
import threading
import time

import pytest
import requests
import yaml
from mapproxy.wsgiapp import make_wsgi_app
from PIL import Image
from werkzeug.serving import make_server

from onemap import stack
from onemap.core.settings import Settings
from onemap.stack import free_port

TILE_SETS = ("vec", "cva", "img", "cia")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """The cloud's tile server: XYZ tiles drawn by MapProxy's debug source."""
    home = tmp_path_factory.mktemp("cloud")
    config = {"services": {"tms": {"use_grid_names": True, "origin": "nw"}},
              "sources": {"generated": {"type": "debug"}},
              "caches": {name: {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["generated"], "disable_storage": True}
                         for name in TILE_SETS},
              "layers": [{"name": name, "title": name, "sources": [name]} for name in TILE_SETS],
              "globals": {"cache": {"base_dir": str(home / "cache"), "lock_dir": str(home / "locks")}}}
    (home / "mapproxy.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    server = make_server("127.0.0.1", free_port(), make_wsgi_app(str(home / "mapproxy.yaml")), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def configured(cloud, database_url, base_url):
    """Our integration.yaml pointed at the stand-in, applied to the running
    gateway (its MapProxy configuration written again, workers reloaded);
    put back, and waited for, at the end: the other tests see no cloud."""
    settings = Settings.from_env()
    path = settings.config_dir / "integration.yaml"
    original = path.read_text(encoding="utf-8")
    changed = yaml.safe_load(original)
    changed["partners"]["cloud"]["url"] = (f"http://127.0.0.1:{cloud.server_port}/tiles/{{layer}}/GLOBAL_WEBMERCATOR/"
                                           f"{{z}}/{{x}}/{{y}}.png?tk={{key}}")
    path.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    try:
        stack.apply_config(settings, database_url)
        yield settings
    finally:
        path.write_text(original, encoding="utf-8")
        stack.apply_config(settings, database_url)
        get_when(f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml",
                 lambda r: r.status_code == 200 and b"CLOUD_VEC" not in r.content)


def get_when(url, ready, timeout=600):  # a hang guard, not a time limit: workers reload
    """A fresh connection each time: a kept-alive one may belong to a worker
    the reload is stopping."""
    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=60)
            if ready(response):
                return response
            last = f"{response.status_code} {response.text[:300]}"
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.3)
    raise AssertionError(f"{url}: {last}")


def opaque_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    return sum(1 for alpha in image.getchannel("A").getdata() if alpha)


def test_the_cloud_basemap_renders_through_our_mapproxy_and_falls_back(http, base_url, configured, cloud):
    http.close()  # no kept-alive connection to a worker the reload stops
    caps = get_when(f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml",
                    lambda r: r.status_code == 200 and b"CLOUD_VEC" in r.content)
    assert b"CLOUD_IMG" in caps.content
    mercator = http.get(f"{base_url}/mapproxy/wmts/CLOUD_VEC/WebMercatorQuad/8/207/106.png", timeout=60)
    assert mercator.status_code == 200 and mercator.headers["Content-Type"] == "image/png"
    assert opaque_pixels(mercator.content) > 0  # the generated tile's lines and text, fetched by our MapProxy
    cgcs = http.get(f"{base_url}/mapproxy/service", timeout=60, params={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "CLOUD_IMG", "STYLES": "",
        "CRS": "EPSG:4490", "BBOX": "27.5,111.5,29.5,113.5", "WIDTH": 256, "HEIGHT": 256, "FORMAT": "image/png",
        "TRANSPARENT": "TRUE"})
    assert cgcs.status_code == 200 and opaque_pixels(cgcs.content) > 0
    health = http.get(f"{base_url}/healthz", timeout=60).json()
    assert health["components"]["cloud-basemap"]["status"] == "up"

    cloud.shutdown()  # the cloud goes away
    uncached = http.get(f"{base_url}/mapproxy/wmts/CLOUD_VEC/WebMercatorQuad/9/415/213.png", timeout=60)
    assert uncached.status_code == 200 and opaque_pixels(uncached.content) == 0  # transparent, the map answers
    again = http.get(f"{base_url}/mapproxy/wmts/CLOUD_VEC/WebMercatorQuad/8/207/106.png", timeout=60)
    assert again.status_code == 200 and again.content == mercator.content  # cached tiles keep showing
    report = http.get(f"{base_url}/healthz", timeout=60)
    assert report.status_code == 200 and report.json()["status"] == "up"
    down = report.json()["components"]["cloud-basemap"]
    assert down["status"] == "down" and down["partner"] and "vec" in down["reason"]
