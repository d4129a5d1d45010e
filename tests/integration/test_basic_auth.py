"""HTTP Basic sign-in (a token as the password), the scheme desktop GIS can
send: GDAL's OGC API Features driver and OWSLib's WMS / WMTS / CSW clients
(which QGIS's MetaSearch uses) reach internal layers with it."""

from __future__ import annotations

import base64
import os
import subprocess

import pytest
import requests
from owslib.csw import CatalogueServiceWeb
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService

from onemap.core.inforce import in_force

INTERNAL = "STBHHX"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_gdal_opens_an_internal_layer_with_basic_auth(ogc_url, tokens, db):
    env = {**os.environ, "GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"planner:{tokens['staff']}"}
    result = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{ogc_url}", INTERNAL], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = db.execute(f"SELECT count(*) FROM plan.stbhhx WHERE {in_force()}").fetchone()[0]
    assert f"Feature Count: {expected}" in result.stdout


def test_owslib_wms_and_wmts_list_internal_layers_with_basic_auth(base_url, tokens):
    wms = WebMapService(f"{base_url}/mapproxy/service", version="1.3.0", timeout=60,
                        username="planner", password=tokens["staff"])
    assert INTERNAL in wms.contents
    wmts = WebMapTileService(f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml", timeout=60,
                             username="planner", password=tokens["staff"])
    assert INTERNAL in wmts.contents
    anonymous = WebMapService(f"{base_url}/mapproxy/service", version="1.3.0", timeout=60)
    assert INTERNAL not in anonymous.contents


def test_owslib_csw_signs_in_with_basic_auth(base_url, tokens):
    csw = CatalogueServiceWeb(f"{base_url}/csw", timeout=60, username="planner", password=tokens["staff"])
    assert csw.identification.type == "CSW"


@pytest.mark.parametrize("header, reason", [
    ("Basic !!!", "not base64"),
    ("Basic " + base64.b64encode(b"no-colon").decode(), "no password"),
    ("Digest abc", "another scheme"),
])
def test_malformed_credentials_are_a_bilingual_401_with_both_challenges(ogc_url, header, reason):
    r = requests.get(f"{ogc_url}/collections/{INTERNAL}/items", params={"f": "json"},
                     headers={"Authorization": header}, timeout=30)
    assert r.status_code == 401, reason
    assert "Basic" in r.headers["WWW-Authenticate"] and "Bearer" in r.headers["WWW-Authenticate"]
    assert r.json()["field"] == "Authorization" and "Basic" in r.json()["message_zh"]


def test_a_wrong_password_is_refused(ogc_url):
    r = requests.get(f"{ogc_url}/collections/{INTERNAL}/items", headers=_basic("planner", "om_wrong"), timeout=30)
    assert r.status_code == 401 and r.json()["message_en"].startswith("Wrong user name or password")
