"""OGC API Features through independent clients: OWSLib and GDAL's OAPIF driver."""

from __future__ import annotations

import os
import subprocess

import pyproj
import pytest
import requests
from owslib.ogcapi.features import Features

from onemap.core.inforce import in_force
from tests.conftest import auth

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def test_owslib_lists_public_collections_in_chinese(ogc_url, layers):
    api = Features(ogc_url, headers={"Accept-Language": "zh-CN"})
    ids = set(api.feature_collections())
    assert ids == {layer.id for layer in layers if layer.is_public}
    assert api.collection("GHYDYH")["title"] == "规划用地用海"


def test_english_titles_by_language_negotiation(ogc_url):
    api = Features(ogc_url, headers={"Accept-Language": "en"})
    assert api.collection("GHYDYH")["title"] == "Planned land and sea use"


@pytest.mark.parametrize("header, lang, title", [
    ("zh-CN,zh;q=0.9", None, "规划用地用海"),   # a Chinese browser
    ("zh-TW", None, "规划用地用海"),            # the language, another territory
    ("fr-CH, fr;q=0.9", None, "规划用地用海"),  # none offered: the default
    ("en-GB", None, "Planned land and sea use"),
    (None, "zh", "规划用地用海"),
    (None, "en-US", "Planned land and sea use"),
    (None, "xx", "规划用地用海"),
])
def test_any_language_a_client_asks_for_is_answered(ogc_url, header, lang, title):
    r = requests.get(f"{ogc_url}/collections/GHYDYH", params={"f": "json", **({"lang": lang} if lang else {})},
                     headers={"Accept-Language": header} if header else {}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["title"] == title


def test_owslib_staff_sees_every_collection(ogc_url, tokens, layers):
    api = Features(ogc_url, headers=auth(tokens["staff"]))
    assert set(api.feature_collections()) == {layer.id for layer in layers}


def test_items_with_bbox_and_limit_match_sql(ogc_url, tokens, db):
    bbox = db.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                      "(SELECT ST_Expand(ST_Centroid(geom), 0.02) e FROM base.xzq WHERE xzqjb = '乡' "
                      "ORDER BY xzqdm LIMIT 1) s").fetchone()
    expected = db.execute("SELECT count(*) FROM base.dltb WHERE geom && ST_MakeEnvelope(%s,%s,%s,%s,4490) "
                          "AND ST_Intersects(geom, ST_MakeEnvelope(%s,%s,%s,%s,4490))", (*bbox, *bbox)).fetchone()[0]
    assert expected > 5
    api = Features(ogc_url, headers=auth(tokens["staff"]))
    page = api.collection_items("DLTB", bbox=list(bbox), limit=5)
    assert page["numberMatched"] == expected
    assert page["numberReturned"] == 5 and len(page["features"]) == 5
    ids = [f["id"] for f in page["features"]]
    assert ids == sorted(ids)
    props = page["features"][0]["properties"]
    assert {"dlbm", "dlmc", "tbmj", "zldwdm"} <= set(props)


@pytest.mark.parametrize("code", ["4490", "4546", "4525"])
def test_crs_output_follows_the_crs_axis_order(ogc_url, tokens, code):
    api = Features(ogc_url, headers=auth(tokens["staff"]))
    plain = api.collection_item("XZQ", "1")
    other = api.collection_items("XZQ", crs=EPSG + code, limit=1)
    assert other["features"][0]["id"] == plain["id"]
    lon, lat = plain["geometry"]["coordinates"][0][0][0]
    a, b = other["features"][0]["geometry"]["coordinates"][0][0][0]
    # pyproj in authority order: 4490 lat/lon, 4546/4525 northing/easting
    expected = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}").transform(lon, lat)
    assert a == pytest.approx(expected[0], abs=1e-3 if code != "4490" else 1e-7)
    assert b == pytest.approx(expected[1], abs=1e-3 if code != "4490" else 1e-7)
    if code == "4525":
        assert 37_000_000 < b < 38_000_000  # zone number in the easting


def test_single_item_and_missing_item(ogc_url, http):
    r = http.get(f"{ogc_url}/collections/XZQ/items/1", params={"f": "json"})
    assert r.status_code == 200 and r.json()["properties"]["xzqmc"] == "益阳市"
    r = http.get(f"{ogc_url}/collections/XZQ/items/987654321", params={"f": "json"})
    assert r.status_code == 404 and r.json()["message_zh"]


def _ogrinfo(url: str, layer: str, token: str | None = None, *extra: str) -> str:
    env = {**os.environ}
    if token:
        env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {token}"
    result = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{url}", layer, *extra],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gdal_reads_a_public_layer(ogc_url, db):
    out = _ogrinfo(ogc_url, "GHYDYH")
    expected = db.execute(f"SELECT count(*) FROM plan.ghydyh WHERE {in_force()}").fetchone()[0]
    assert f"Feature Count: {expected}" in out
    assert "ydyhdm" in out and "Multi Polygon" in out


def test_gdal_reads_an_internal_layer_with_a_token(ogc_url, tokens, db):
    # (GDAL 3.6 of Debian 12 has no CRS open option for OAPIF; the crs tests above use OWSLib)
    out = _ogrinfo(ogc_url, "STBHHX", tokens["staff"])
    expected = db.execute(f"SELECT count(*) FROM plan.stbhhx WHERE {in_force()}").fetchone()[0]
    assert "hxmc" in out and f"Feature Count: {expected}" in out


def test_gdal_without_token_cannot_open_an_internal_layer(ogc_url):
    result = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{ogc_url}", "STBHHX"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_only_what_works_is_declared_no_features_part4(ogc_url, tokens):
    """No collection is editable, so Part 4 (create-replace-delete) is not
    declared, and an attempt to create a feature is refused, not half-done."""
    classes = requests.get(f"{ogc_url}/conformance", params={"f": "json"}, timeout=30).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert not [c for c in classes if "ogcapi-features-4" in c]
    r = requests.post(f"{ogc_url}/collections/JSXM/items", headers=auth(tokens["admin"]), timeout=30,
                      json={"type": "Feature", "geometry": None, "properties": {}})
    assert 400 <= r.status_code < 500 and r.json()["message_zh"]
