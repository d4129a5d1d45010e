"""QGIS offscreen (Debian python3-qgis, run by the system python3 in a
subprocess): the OAPIF, vector tile, WMS and WMTS layers a planner adds are
valid and render non-blank, and an internal layer opens through a QGIS Basic
authentication configuration with a staff user's name and password — the
way planners reach internal layers from QGIS."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from onemap.core.inforce import in_force
from tests.conftest import auth

PROBE = Path(__file__).with_name("qgis_probe.py")
QGIS = "QGIS 3.22 offscreen (Debian python3-qgis)"


@pytest.fixture(scope="module")
def internal_layer(layers) -> str:
    return next(x.id for x in layers if not x.is_public and x.table_name == "czkfbj")


@pytest.fixture(scope="module")
def planner(base_url, tokens) -> dict[str, str]:
    """A staff account with a password, made as an operator makes one."""
    account = {"username": f"qgis{uuid.uuid4().hex[:8]}", "password": "Qgis-planner-1"}
    r = requests.post(f"{base_url}/admin/users", headers=auth(tokens["admin"]), timeout=30,
                      json={"name": account["username"], "password": account["password"], "roles": ["staff"]})
    assert r.status_code == 201, r.text
    return account


@pytest.fixture(scope="module")
def qgis(base_url, db, planner, internal_layer) -> dict:
    """Every layer opened and rendered in one QGIS run (QGIS starts in seconds)."""
    extent = db.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                        "(SELECT ST_Extent(geom) e FROM base.xzq) s").fetchone()
    tiles = quote(f"{base_url}/ogc/collections/XZQ/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt")
    internal = f"url='{base_url}/ogc' typename='{internal_layer}'"
    request = {"extent": list(extent), "layers": [
        {"name": "oapif", "provider": "OAPIF", "uri": f"url='{base_url}/ogc' typename='XZQ'"},
        {"name": "vector-tiles", "provider": "vectortile", "uri": f"type=xyz&url={tiles}&zmin=0&zmax=14"},
        {"name": "wms", "provider": "wms", "uri": "contextualWMSLegend=0&crs=EPSG:4490&dpiMode=7&format=image/png"
                                                  f"&layers=GHYDYH&styles=&url={base_url}/mapproxy/service"},
        {"name": "wmts", "provider": "wms", "uri": "contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png"
                                                   "&layers=GHYDYH&styles=default&tileMatrixSet=WebMercatorQuad"
                                                   f"&url={base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml"},
        {"name": "internal", "provider": "OAPIF", "uri": internal, "basic": planner},
        {"name": "internal-anonymous", "provider": "OAPIF", "uri": internal},

    ]}
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(["/usr/bin/python3", str(PROBE)], input=json.dumps(request), capture_output=True,
                          text=True, timeout=300, env=env)  # a hang guard
    results = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    return {spec["name"]: results.get(spec["name"]) or {"valid": False, "error": f"QGIS exited with {done.returncode}"
                                                        f" before this layer: {done.stderr[-1500:]}"}
            for spec in request["layers"]}


def assert_rendered(result: dict) -> None:
    assert result["valid"], result["error"]
    assert result["painted"] > 256 * 256 // 10, result  # the city fills a good part of the map


@pytest.mark.conformance("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core", client=QGIS + " OAPIF")
def test_qgis_oapif_layer(qgis, db):
    assert_rendered(qgis["oapif"])
    assert qgis["oapif"]["features"] == db.execute("SELECT count(*) FROM base.xzq").fetchone()[0]


@pytest.mark.conformance("http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt", client=QGIS + " vector tiles")
def test_qgis_vector_tile_layer(qgis):
    assert_rendered(qgis["vector-tiles"])


@pytest.mark.conformance("WMS 1.3.0", client=QGIS + " WMS")
def test_qgis_wms_layer(qgis):
    assert_rendered(qgis["wms"])


@pytest.mark.conformance("WMTS 1.0.0", client=QGIS + " WMTS")
def test_qgis_wmts_layer(qgis):
    assert_rendered(qgis["wmts"])


@pytest.mark.conformance("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                         client=QGIS + " OAPIF with a Basic authentication configuration")
def test_qgis_opens_an_internal_layer_with_a_basic_auth_configuration(qgis, db):
    assert not qgis["internal-anonymous"]["valid"] or qgis["internal-anonymous"].get("features") == 0
    result = qgis["internal"]
    assert result["valid"], result["error"]
    assert result["features"] == db.execute(f"SELECT count(*) FROM plan.czkfbj WHERE {in_force()}").fetchone()[0]
    assert result["painted"] > 0

