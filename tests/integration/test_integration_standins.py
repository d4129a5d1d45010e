"""The partners' local stand-ins of `make up` (onemap.standins): started as
the stack starts them — processes on loopback with pid files and logs, the
integration settings pointed at them — they work end to end with the
running gateway, not restarted: a job's callback reaches the e-government
stand-in signed with the partner's key; the cloud basemap renders through
our MapProxy configuration and the staff application lists it; the
province's CSW takes transactions and its upload endpoint accepts; health
shows them; `down` stops them and forgets their settings.

They run under a var directory of their own (sharing the stack's callback
key, as a partner is handed it): stand-in settings in the test stack's var
would reach its gateway at the next reload and push the catalogue to a
province in the middle of other tests."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
import requests
from flask import Flask, g
from mapproxy.wsgiapp import make_wsgi_app
from owslib.catalogue.csw2 import CatalogueServiceWeb
from PIL import Image
from werkzeug.test import Client

from integration import province_maps
from integration import standins as partner_standins
from integration.config import IntegrationConfig, secret, standins_file
from onemap import standins
from onemap.core.access import AccessPolicy
from onemap.core.auth import ANONYMOUS
from onemap.core.daemon import running_pid
from onemap.core.registry import load_layers, load_processes
from onemap.core.settings import Settings
from onemap.gateway import basemaps
from onemap.maps.config import config_path
from onemap.maps.service import map_sensitivity, parts_sensitivity
from onemap.stack import generate_config
from tests.integration.test_compliance_jobs import wait_done
from tests.integration.test_integration_outbox import boundary, run_check  # noqa: F401 - boundary: a fixture

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone


@pytest.fixture(scope="module")
def settings(tmp_path_factory, monkeypatch_module):
    stack_settings = Settings.from_env()
    settings = replace(stack_settings, var_dir=tmp_path_factory.mktemp("standins") / "var")
    egov = IntegrationConfig.load(stack_settings.config_dir).partner("egov")
    key = settings.var_dir / egov["secret_file"]
    key.parent.mkdir(parents=True)
    key.write_bytes(secret(stack_settings, egov))  # the one the gateway signs with (made at first use)
    monkeypatch_module.setenv("ONEMAP_VAR", str(settings.var_dir))  # what the health checks read
    return settings


@pytest.fixture(scope="module")
def started(settings, database_url, db):
    urls = standins.start(settings, database_url, print)
    yield urls
    standins.stop(settings)
    db.execute(f"DROP SCHEMA IF EXISTS {standins.PROVINCE_SCHEMA} CASCADE")


def test_make_up_stands_in_for_each_partner_left_empty(settings, started):
    assert set(started) == {"province-csw", "upload", "cloud", "egov", "province-maps"}
    assert partner_standins.wanted(settings.config_dir) == list(partner_standins.REPLACES)
    for kind in started:
        assert running_pid(settings.run_dir / f"standin-{kind}.pid"), kind
    partners = IntegrationConfig.of(settings).partners
    assert partners["province"]["csw_url"] == started["province-csw"]
    assert partners["province"]["upload_url"] == f"{started['upload']}/uploads"
    assert partners["cloud"]["url"].startswith(started["cloud"] + "/tiles/{layer}/")
    assert partners["province"]["wms_url"] == partner_standins.province_wms_url(started["province-maps"])
    assert IntegrationConfig.load(settings.config_dir).partners["cloud"]["url"] is None  # config/ unchanged
    shown = partner_standins.health()
    assert all(url in shown for url in started.values())


def test_a_callback_reaches_the_egov_standin_signed(http, ogc_url, tokens, boundary, started):  # noqa: F811
    callbacks = SimpleNamespace(url=f"{started['egov']}/callbacks")
    location, job_id = run_check(http, ogc_url, tokens["egov"], boundary, "STANDIN-1", callbacks)
    assert wait_done(http, location, tokens["egov"])[0]["status"] == "successful"
    call = wait_call(started["egov"], f"{job_id}:success")
    assert call["refused"] is None and call["path"] == "/callbacks/success"  # the signature verified
    assert call["body"]["result"]["case_id"] == "STANDIN-1"


def wait_call(url, key, timeout=600):  # a hang guard, not a time limit
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = requests.get(f"{url}/calls", timeout=30).json()["calls"]
        found = [call for call in calls if call["key"] == key]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no call {key}: {calls[-5:]}")


def test_the_cloud_basemap_renders_from_the_standin_and_is_listed(settings, database_url, base_url, started):
    generate_config(settings, database_url)
    ours = Client(make_wsgi_app(str(config_path(settings, "public"))))
    listed = {entry["id"]: entry for entry in basemap_list(settings)}
    without = [entry["id"] for entry in requests.get(f"{base_url}/basemaps.json", timeout=30).json()["basemaps"]]
    assert list(listed) == [*without, "cloud-vec", "cloud-img"]  # the test stack's gateway: no cloud, not listed
    tile = listed["cloud-img"]["tiles"].split("/mapproxy", 1)[1].format(z=8, x=207, y=106)
    answer = ours.get(tile)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    assert sum(Image.open(io.BytesIO(answer.data)).convert("RGBA").getchannel("A").histogram()[1:]) > 0


def basemap_list(settings):
    """/basemaps.json of a gateway with `settings`, for an anonymous caller."""
    layers = load_layers(settings.config_dir / "layers.yaml")
    policy = AccessPolicy.from_config(settings.gateway, layers, load_processes(settings.config_dir / "processes.yaml"))
    app = Flask(__name__)
    app.before_request(lambda: setattr(g, "principal", ANONYMOUS))
    app.register_blueprint(basemaps.blueprint(settings, policy, map_sensitivity(layers) | parts_sensitivity(settings)))
    return app.test_client().get("/basemaps.json").json["basemaps"]


def test_the_province_standins_answer(started):
    csw = CatalogueServiceWeb(started["province-csw"], timeout=60)
    assert "Transaction" in [operation.name for operation in csw.operations]
    taken = requests.post(f"{started['upload']}/uploads", data=b"PK", headers={"Idempotency-Key": "standin-1"},
                          timeout=30)
    assert taken.status_code == 200 and taken.json() == {"status": "accepted"}
    assert province_maps.health() == "1 layers answer"  # its WMS names the layer we serve


def test_down_stops_them_and_forgets_their_settings(settings, started):
    assert sorted(standins.stop(settings)) == sorted(started)
    assert not list(settings.run_dir.glob("standin-*.pid"))
    assert not standins_file(settings.var_dir).exists()
    assert IntegrationConfig.of(settings).partners["cloud"]["url"] is None
    assert partner_standins.health() == "none started"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{started['egov']}/calls", timeout=30)
