"""Special plans (专项规划): the demo's kinds are served as plan layers to
staff only and agree with the master plan; a facility the test places in
the ecological red line is caught with its feature and the overlap's
area, measured here on the CGCS2000 ellipsoid with pyproj."""

from __future__ import annotations

import uuid

import pyproj
import pytest
import requests
import shapely

from onemap.core.inforce import in_force
from processes.plan.special import special_plan_layers
from tests.conftest import auth

GEOD = pyproj.Geod(ellps="GRS80")  # the CGCS2000 ellipsoid
HALF_SIDE = 0.0004                 # degrees: a site of about 80 m × 80 m


def check(ogc_url, token, inputs):
    r = requests.post(f"{ogc_url}/processes/special-plan-check/execution", json={"inputs": inputs},
                      headers=auth(token), timeout=600)
    assert r.status_code == 200, r.text[:500]
    return {layer["layer"]: layer for layer in r.json()["result"]["layers"]}


@pytest.fixture
def site_in_red_line(db):
    """A transport facility (公路用地 1202) on an in-force red line polygon
    of the master plan, in the plan version in force; removed afterwards."""
    hxbh, red_line = db.execute(f"""
        SELECT hxbh, ST_AsBinary(geom) FROM plan.stbhhx
        WHERE {in_force()} ORDER BY ST_Area(geom) DESC LIMIT 1""").fetchone()
    red_line = shapely.from_wkb(bytes(red_line))
    centre = shapely.maximum_inscribed_circle(red_line).coords[0]
    site = shapely.box(centre[0] - HALF_SIDE, centre[1] - HALF_SIDE, centre[0] + HALF_SIDE, centre[1] + HALF_SIDE)
    bsm = f"PYTEST-{uuid.uuid4().hex[:8]}"
    # in force, not open-ended: test_staff_app gives the version in force an end meanwhile
    feature_id = db.execute(f"""
        INSERT INTO plan.zxgh_jt (id, bsm, ssmc, ydyhdm, dldj, hxkd, xzqdm, mj, plan_version, valid_from, geom)
        SELECT (SELECT coalesce(max(id), 0) + 1 FROM plan.zxgh_jt), %s, '测试公路', '1202', '国省道', '40', '430900',
               ST_Area(g::geography), v.plan_version, v.valid_from, g
        FROM plan.plan_version v, ST_Multi(ST_GeomFromWKB(%s, 4490)) g
        WHERE {in_force(alias="v")}
        RETURNING id""", (bsm, shapely.to_wkb(site))).fetchone()[0]
    try:
        yield {"id": feature_id, "bsm": bsm, "hxbh": hxbh, "overlap": red_line.intersection(site)}
    finally:
        db.execute("DELETE FROM plan.zxgh_jt WHERE bsm = %s", (bsm,))


def test_the_demo_special_plans_are_served_to_staff_and_agree_with_the_master_plan(ogc_url, tokens, db):
    layers = [layer.id for layer in special_plan_layers()]
    assert len(layers) == 7  # every kind of the special edition is a layer of its own
    filled = 0
    for layer in special_plan_layers():
        r = requests.get(f"{ogc_url}/collections/{layer.id}/items", params={"limit": 1, "f": "json"},
                         headers=auth(tokens["staff"]), timeout=60)
        stored = db.execute(f"SELECT count(*) FROM {layer.table} WHERE {in_force()}").fetchone()[0]
        assert r.status_code == 200 and r.json()["numberMatched"] == stored, (layer.id, r.text[:300])
        filled += stored > 0
        assert requests.get(f"{ogc_url}/collections/{layer.id}/items", timeout=60).status_code in (401, 403, 404)
    assert filled >= 5  # the demo city's parcels give sites of five kinds (no energy or heritage land in it)
    result = check(ogc_url, tokens["staff"], {})
    assert set(result) == set(layers)
    assert all(entry["passed"] and entry["findings"] == [] for entry in result.values()), result


def test_a_facility_in_the_red_line_is_caught_with_its_feature_and_area(ogc_url, tokens, site_in_red_line):
    result = check(ogc_url, tokens["staff"], {"layers": ["ZXGH_JT"]})["ZXGH_JT"]
    assert not result["passed"] and result["verdict_zh"] == "不合格"
    [finding] = [f for f in result["findings"] if f["against"] == "STBHHX"]
    assert (finding["feature_id"], finding["key"], finding["other"]) == (
        site_in_red_line["id"], site_in_red_line["bsm"], site_in_red_line["hxbh"])
    expected = abs(GEOD.geometry_area_perimeter(site_in_red_line["overlap"])[0])
    assert finding["area_m2"] == pytest.approx(expected, rel=1e-4)
    assert site_in_red_line["bsm"] in finding["message_zh"] and f"{finding['area_m2']:,.2f}" in finding["message_zh"]
    assert shapely.geometry.shape(finding["geometry"]).area == pytest.approx(site_in_red_line["overlap"].area, rel=1e-6)


def test_the_horizontal_transmission_fails_the_special_plan_where_the_site_is(ogc_url, tokens, site_in_red_line):
    r = requests.post(f"{ogc_url}/processes/indicator-transmission/execution",
                      json={"inputs": {"check": "horizontal"}}, headers=auth(tokens["staff"]), timeout=600)
    assert r.status_code == 200, r.text[:500]
    result = r.json()["tree"]  # the output `tree`: the check's whole answer, its tree under "tree"
    (plan,) = [p for p in result["tree"] if p["layer"] == "ZXGH_JT"]
    nodes = {n["layer"]: n for n in plan["children"]}
    red = nodes["STBHHX"]
    assert red["status"]["zh"] == "不合格" and [f["code"] for f in red["features"]] == [site_in_red_line["bsm"]]
    assert red["area_m2"] == pytest.approx(abs(GEOD.geometry_area_perimeter(site_in_red_line["overlap"])[0]), rel=1e-3)
    assert nodes["YJJBNT"]["status"]["zh"] == "合格" and plan["status"]["zh"] == "不合格"
    assert result["status"] == "不合格" and result["violations"] >= 1
