"""CQL2 filters (Part 3) and vector tiles against the SQL that must agree."""

from __future__ import annotations

import json
import math

import mapbox_vector_tile
import pytest
import requests
from shapely.geometry import box

from onemap.core.inforce import in_force
from tests.conftest import auth


def _all_ids(url: str, headers: dict, params: dict) -> list[int]:
    params = {"f": "json", "limit": 10000, "skipGeometry": "true", **params}
    r = requests.get(url, params=params, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    return sorted(f["id"] for f in r.json()["features"])


def test_cql2_text_matches_sql(ogc_url, tokens, db):
    township = db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡' ORDER BY xzqdm LIMIT 1").fetchone()[0]
    cql = f"dlbm IN ('0101','0103') AND zldwdm LIKE '{township}%' AND tbmj > 5000"
    expected = [r[0] for r in db.execute(
        "SELECT id FROM base.dltb WHERE dlbm IN ('0101','0103') AND zldwdm LIKE %s AND tbmj > 5000 ORDER BY id",
        (township + "%",))]
    assert expected
    got = _all_ids(f"{ogc_url}/collections/DLTB/items", auth(tokens["staff"]),
                   {"filter": cql, "filter-lang": "cql2-text"})
    assert got == expected


def test_cql2_spatial_filter_matches_sql(ogc_url, db):
    minx, miny, maxx, maxy = db.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Expand(ST_Centroid(geom), 0.05) e "
        "FROM plan.czkfbj ORDER BY id LIMIT 1) s").fetchone()
    wkt = box(minx, miny, maxx, maxy).wkt
    expected = [r[0] for r in db.execute(
        f"SELECT id FROM plan.ghydyh WHERE {in_force()} AND ydyhdm LIKE '07%%' "
        "AND ST_Intersects(geom, ST_GeomFromText(%s, 4490)) ORDER BY id", (wkt,))]
    assert expected
    got = _all_ids(f"{ogc_url}/collections/GHYDYH/items", {},
                   {"filter": f"ydyhdm LIKE '07%' AND S_INTERSECTS(geom, {wkt})"})
    assert got == expected


def test_cql2_json_matches_sql(ogc_url, db):
    body = {"op": "and", "args": [
        {"op": "=", "args": [{"property": "ydyhdm"}, "0101"]},
        {"op": ">", "args": [{"property": "mj"}, 100000]}]}
    expected = [r[0] for r in db.execute(
        f"SELECT id FROM plan.ghydyh WHERE {in_force()} AND ydyhdm = '0101' AND mj > 100000 ORDER BY id")]
    r = requests.post(f"{ogc_url}/collections/GHYDYH/items",
                      params={"f": "json", "limit": 10000, "skipGeometry": "true", "filter-lang": "cql2-json"},
                      data=json.dumps(body), headers={"Content-Type": "application/query-cql-json"}, timeout=120)
    assert r.status_code == 200, r.text
    assert sorted(f["id"] for f in r.json()["features"]) == expected


def test_queryables_list_the_fields(ogc_url, http):
    r = http.get(f"{ogc_url}/collections/GHYDYH/queryables", params={"f": "json"})
    assert r.status_code == 200
    assert {"ydyhdm", "ydyhmc", "xzqdm", "mj"} <= set(r.json()["properties"])


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    n = 2 ** z

    def lat(t: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * t / n))))
    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


@pytest.mark.parametrize("z", [12, 14])
def test_vector_tile_holds_the_features_of_its_area(ogc_url, tokens, db, z):
    lon, lat = db.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM base.xzq "
                          "WHERE xzqjb = '乡' ORDER BY xzqdm LIMIT 1) s").fetchone()
    x, y = _tile_of(lon, lat, z)
    r = requests.get(f"{ogc_url}/collections/DLTB/tiles/WebMercatorQuad/{z}/{y}/{x}",
                     params={"f": "mvt"}, headers=auth(tokens["staff"]), timeout=60)
    assert r.status_code == 200, r.text
    tile = mapbox_vector_tile.decode(r.content)
    features = tile["dltb"]["features"]
    minx, miny, maxx, maxy = _tile_bounds(z, x, y)
    expected = {row[0] for row in db.execute(
        "SELECT id FROM base.dltb WHERE ST_Intersects(geom, "
        "ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => 256.0 / 4096), 4490))", (z, x, y))}
    got = {f["properties"]["id"] for f in features}
    # the tile holds its 256-unit buffer too; ST_AsMVTGeom drops features that vanish at tile resolution
    assert got <= expected and len(got) >= 0.97 * len(expected)
    sample = next(f for f in features)
    assert sample["properties"]["dlbm"] and sample["properties"]["dlmc"]
    assert minx < lon < maxx and miny < lat < maxy


def test_public_plan_tiles_are_anonymous(ogc_url, db):
    lon, lat = db.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM plan.ghydyh "
                          "ORDER BY id LIMIT 1) s").fetchone()
    x, y = _tile_of(lon, lat, 13)
    r = requests.get(f"{ogc_url}/collections/GHYDYH/tiles/WebMercatorQuad/13/{y}/{x}", params={"f": "mvt"},
                     timeout=60)
    assert r.status_code == 200
    assert mapbox_vector_tile.decode(r.content)["ghydyh"]["features"]
