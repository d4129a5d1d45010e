"""The spatio-temporal cloud stood in by a second MapProxy serving generated
tiles (its debug source) on loopback. Our MapProxy configuration is
generated as the stack generates it (onemap.maps, the cloud part through
config/components.yaml `map_sources`) from a configuration whose cloud URL
points at the stand-in, and served here: the basemap renders in EPSG:3857
and EPSG:4490; with the stand-in stopped, the map still answers (tiles
transparent and not cached, cached ones kept) and the health check reports
the source down as a partner's outage, not ours. (Generated and served
here rather than by reloading the running gateway twice: a reload costs a
minute on the shared machine.)"""

from __future__ import annotations

import io
import shutil
import threading
from dataclasses import replace

import pytest
import yaml
from mapproxy.wsgiapp import make_wsgi_app
from PIL import Image
from werkzeug.serving import make_server
from werkzeug.test import Client

from integration.standins import cloud_app, cloud_url
from onemap.core.components import Components, load_object
from onemap.core.settings import Settings
from onemap.gateway.health import HealthCheck, run_checks
from onemap.maps.config import config_path
from onemap.stack import free_port, generate_config

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """The cloud's tile server: XYZ tiles drawn by MapProxy's debug source."""
    app = cloud_app(tmp_path_factory.mktemp("cloud"))
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def settings(standin, tmp_path_factory, monkeypatch_module):
    """A copy of the stack's configuration with the cloud URL set (as an
    operator sets it), and a var directory of its own."""
    stack_settings = Settings.from_env()
    home = tmp_path_factory.mktemp("cloud-stack")
    shutil.copytree(stack_settings.config_dir, home / "config")
    path = home / "config" / "integration.yaml"
    changed = yaml.safe_load(path.read_text(encoding="utf-8"))
    changed["partners"]["cloud"]["url"] = cloud_url(f"http://127.0.0.1:{standin.server_port}")
    path.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    settings = replace(stack_settings, config_dir=home / "config", var_dir=home / "var")
    monkeypatch_module.setenv("ONEMAP_CONFIG", str(settings.config_dir))  # what the health check reads
    monkeypatch_module.setenv("ONEMAP_VAR", str(settings.var_dir))
    return settings


@pytest.fixture(scope="module")
def our_mapproxy(settings, database_url):
    generate_config(settings, database_url)
    return Client(make_wsgi_app(str(config_path(settings, "public"))))


def opaque_pixels(png: bytes) -> int:
    return sum(Image.open(io.BytesIO(png)).convert("RGBA").getchannel("A").histogram()[1:])


def health() -> dict:
    components = Components.load(Settings.from_env().config_dir)
    return run_checks([HealthCheck(name, load_object(check), name in components.partner_checks)
                       for name, check in components.health_checks if name == "cloud-basemap"])


def test_the_cloud_basemap_renders_through_our_mapproxy_and_falls_back(our_mapproxy, standin):
    caps = our_mapproxy.get("/wmts/1.0.0/WMTSCapabilities.xml")
    assert caps.status_code == 200 and b"CLOUD_VEC" in caps.data and b"CLOUD_IMG" in caps.data
    assert b"GHYDYH" in caps.data  # beside our own layers
    mercator = our_mapproxy.get("/wmts/CLOUD_VEC/WebMercatorQuad/8/207/106.png")
    assert mercator.status_code == 200 and mercator.headers["Content-Type"] == "image/png"
    assert opaque_pixels(mercator.data) > 0  # the generated tile, fetched by our MapProxy
    cgcs = our_mapproxy.get("/wmts/CLOUD_IMG/CGCS2000/8/414/88.png")
    assert cgcs.status_code == 200 and opaque_pixels(cgcs.data) > 0  # reprojected to EPSG:4490
    wms = our_mapproxy.get("/service", query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "CLOUD_IMG", "STYLES": "",
        "CRS": "EPSG:4490", "BBOX": "27.5,111.5,29.5,113.5", "WIDTH": 256, "HEIGHT": 256, "FORMAT": "image/png",
        "TRANSPARENT": "TRUE"})
    assert wms.status_code == 200 and opaque_pixels(wms.data) > 0
    up = health()
    assert up["status"] == "up" and up["components"]["cloud-basemap"]["status"] == "up"

    standin.shutdown()  # the cloud goes away: connections refused
    standin.server_close()
    uncached = our_mapproxy.get("/wmts/CLOUD_VEC/WebMercatorQuad/9/415/213.png")
    assert uncached.status_code == 200 and opaque_pixels(uncached.data) == 0  # transparent: the map answers
    again = our_mapproxy.get("/wmts/CLOUD_VEC/WebMercatorQuad/8/207/106.png")
    assert again.status_code == 200 and again.data == mercator.data  # cached tiles keep showing
    down = health()
    assert down["status"] == "up"  # a partner's outage is not ours
    source = down["components"]["cloud-basemap"]
    assert source["status"] == "down" and source["partner"] and "ConnectionError" in source["reason"]
    assert "tk=" not in source["reason"]  # the key stays out of what health shows

