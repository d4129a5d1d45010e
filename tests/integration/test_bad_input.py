"""Bad input gets a 4xx with a Chinese and English message, never a 500."""

from __future__ import annotations

import pytest
import requests

CASES = [
    ("malformed bbox", "GHYDYH", {"bbox": "111,28,abc"}, "bbox"),
    ("bbox with 3 numbers", "GHYDYH", {"bbox": "111,28,112"}, "bbox"),
    ("unknown crs", "GHYDYH", {"crs": "http://www.opengis.net/def/crs/EPSG/0/9999"}, "crs"),
    ("broken CQL2", "GHYDYH", {"filter": "ydyhdm = = '0101'"}, "filter"),
    ("CQL2 on an unknown property", "GHYDYH", {"filter": "nosuchfield = 1"}, "filter"),
    ("CQL2 function call", "GHYDYH", {"filter": "pg_sleep(5) = 1"}, "filter"),
    ("CQL2 function on a property", "XZQ", {"filter": "upper(xzqmc) = 'X'"}, "filter"),
    ("negative limit", "GHYDYH", {"limit": "-5"}, "limit"),
    ("limit not a number", "GHYDYH", {"limit": "many"}, "limit"),
    ("bad datetime", "GHYDYH", {"datetime": "last tuesday"}, "datetime"),
    ("unknown collection", "NOSUCHLAYER", {}, "collectionId"),
]


@pytest.mark.parametrize("name,collection,params,field", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_4xx_with_a_bilingual_message(ogc_url, name, collection, params, field):
    r = requests.get(f"{ogc_url}/collections/{collection}/items", params={"f": "json", **params}, timeout=30)
    assert 400 <= r.status_code < 500, f"{name}: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert body["message_zh"] and body["message_en"], body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"])
    assert body.get("field") == field, body


def test_unknown_tile_matrix_set_and_out_of_range_tile(ogc_url):
    r = requests.get(f"{ogc_url}/collections/GHYDYH/tiles/NoSuchTMS/1/1/1", params={"f": "mvt"}, timeout=30)
    assert 400 <= r.status_code < 500
    r = requests.get(f"{ogc_url}/collections/GHYDYH/tiles/WebMercatorQuad/3/99/99", params={"f": "mvt"}, timeout=30)
    assert 400 <= r.status_code < 500


def test_unknown_path_is_a_bilingual_404(base_url):
    r = requests.get(f"{base_url}/no/such/thing", timeout=30)
    assert r.status_code == 404 and r.json()["message_zh"]


def test_an_unsupported_cql2_function_is_named(ogc_url):
    r = requests.get(f"{ogc_url}/collections/GHYDYH/items", params={"f": "json", "filter": "pg_sleep(5) = 1"},
                     timeout=30)
    assert r.status_code == 400
    assert "pg_sleep" in r.json()["message_zh"] and "pg_sleep" in r.json()["message_en"]
