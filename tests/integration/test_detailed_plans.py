"""控制性详细规划: the plot layer KZXXGH read by standard clients with
`datetime`; the permit stages (方案审查, 工程报建, 规划条件核实) checking a
project's indicators against the conditions of the plot it lies on; the
horizontal transmission check of the detailed plan against the master plan.

The test's own plots (a plot amended in the past, a plot put into the red
line) are inserted with codes of their own and removed afterwards; no plan
version is published."""

from __future__ import annotations

import base64
import json

import pytest
import requests
import shapely
from owslib.ogcapi.features import Features
from pyproj import Geod

from onemap.core.inforce import in_force
from tests.conftest import auth

GEOD = Geod(ellps="GRS80")
PAST, NOW_THEN = "2023-03-01T00:00:00+08:00", "2024-06-01T00:00:00+08:00"


def area_m2(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


def execute(http, ogc_url, token, process, inputs, outputs=None):
    body = {"inputs": inputs, **({"outputs": outputs} if outputs else {})}
    return http.post(f"{ogc_url}/processes/{process}/execution", json=body, headers=auth(token), timeout=600)


def insert_plot(db, dkbh, ydyhdm, geom_sql, params, valid_to=None, at=None) -> int:
    """A plot of the test's own in the version in force now, or at `at`
    (valid_to: ended then)."""
    return db.execute(f"""
        INSERT INTO plan.kzxxgh (id, bsm, dkbh, ydyhdm, ydyhmc, rjl, jzmd, jzxg, ldl, xzqdm, mj, plan_version,
                                 valid_from, valid_to, geom)
        SELECT (SELECT max(id) FROM plan.kzxxgh) + 1, %(d)s, %(d)s, %(c)s, '测试地块', 1.5, 30, 24, 20, x.xzqdm,
               ST_Area(g::geography), v.plan_version, v.valid_from, %(to)s, ST_Multi(g)
        FROM ({geom_sql}) s(g)
        CROSS JOIN LATERAL (SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡'
                            AND ST_Intersects(geom, ST_PointOnSurface(s.g)) LIMIT 1) x
        CROSS JOIN (SELECT plan_version, valid_from FROM plan.plan_version
                    WHERE {in_force("coalesce(%(at)s::timestamptz, now())")} ORDER BY valid_from DESC LIMIT 1) v
        RETURNING id""", {"d": dkbh, "c": ydyhdm, "to": valid_to, "at": at, **params}).fetchone()[0]


@pytest.fixture(scope="module")
def plot(db):
    """The roomiest residential plot in force, and a square well inside it."""
    row = db.execute(f"""
        SELECT dkbh, ydyhdm, rjl, jzmd, jzxg, ldl,
               ST_AsGeoJSON(ST_Envelope(ST_Buffer(ST_PointOnSurface(geom), 0.0005)))
        FROM plan.kzxxgh WHERE {in_force()} AND ydyhdm LIKE '07%%'
          AND ST_Within(ST_Envelope(ST_Buffer(ST_PointOnSurface(geom), 0.0005)), geom)
        ORDER BY mj DESC LIMIT 1""").fetchone()
    assert row, "the demo has residential plots"
    keys = ("dkbh", "ydyhdm", "rjl", "jzmd", "jzxg", "ldl")
    return {**dict(zip(keys, row[:6], strict=True)), "boundary": json.loads(row[6])}


def check(http, ogc_url, tokens, plot, stage, indicators):
    r = execute(http, ogc_url, tokens["egov"], "compliance-check",
                {"boundary": plot["boundary"], "stage": stage, "use_code": plot["ydyhdm"],
                 "indicators": indicators, "case_id": "PYTEST-KG"}, {"result": {}})
    assert r.status_code == 200, r.text
    result = r.json()
    return result, {f["rule"]: f for f in result["findings"]}


def test_plots_are_read_with_datetime_by_owslib_and_requests(ogc_url, tokens, db, http):
    api = Features(ogc_url, headers=auth(tokens["staff"]))
    expected = db.execute(f"SELECT count(*) FROM plan.kzxxgh WHERE {in_force('%(t)s')}",
                          {"t": NOW_THEN}).fetchone()[0]
    assert expected > 100
    page = api.collection_items("KZXXGH", datetime=NOW_THEN, limit=5)
    assert page["numberMatched"] == expected and len(page["features"]) == 5
    assert {"dkbh", "ydyhdm", "ydyhmc", "rjl", "jzmd", "jzxg", "ldl", "plan_version"} <= set(
        page["features"][0]["properties"])
    # a plot amended away in 2023 answers for its time only
    square = "SELECT ST_Envelope(ST_Buffer(ST_PointOnSurface(geom), 0.001)) FROM plan.kzxxgh ORDER BY id LIMIT 1"
    pid = insert_plot(db, "PYTEST-KG-PAST", "070102", square, {}, valid_to="2023-06-01T00:00:00+08:00", at=PAST)
    try:
        found = {}
        for when in (PAST, NOW_THEN):
            r = http.get(f"{ogc_url}/collections/KZXXGH/items", headers=auth(tokens["staff"]), timeout=60,
                         params={"f": "json", "datetime": when, "filter": "dkbh = 'PYTEST-KG-PAST'"})
            assert r.status_code == 200, r.text
            found[when] = [f["id"] for f in r.json()["features"]]
    finally:
        db.execute("DELETE FROM plan.kzxxgh WHERE id = %s", (pid,))
    assert found == {PAST: [pid], NOW_THEN: []}
    # not for the public: an internal plan layer
    anonymous = requests.get(f"{ogc_url}/collections/KZXXGH/items", params={"f": "json"}, timeout=60)
    assert anonymous.status_code == 401 and anonymous.json()["message_zh"]


def test_a_far_over_the_plot_is_nonconforming_with_both_numbers_and_within_it_conforms(http, base_url, ogc_url,
                                                                                          tokens, plot):
    over = {"rjl": round(plot["rjl"] + 0.5, 2), "jzmd": plot["jzmd"], "jzxg": plot["jzxg"], "ldl": plot["ldl"]}
    result, findings = check(http, ogc_url, tokens, plot, "方案审查", over)
    far = findings["KZXXGH-RJL"]
    assert result["verdict"] == "不符合" and far["verdict"] == "不符合"
    assert (far["declared"], far["limit"], far["plots"]) == (over["rjl"], plot["rjl"], [plot["dkbh"]])
    assert f"{over['rjl']:g}" in far["message"]["zh"] and f"{plot['rjl']:g}" in far["message"]["zh"]
    assert result["indicators"]["basis"]["zh"] == "申报"
    report = http.get(f"{base_url}/reports/compliance/{result['check_id']}.html", headers=auth(tokens["egov"]),
                      timeout=120)
    assert report.status_code == 200 and f"rjl = {over['rjl']:g}" in report.text and "申报指标" in report.text
    within = {**over, "rjl": plot["rjl"]}
    _, findings = check(http, ogc_url, tokens, plot, "工程报建", within)
    plot_rules = {k: f["verdict"] for k, f in findings.items() if k.startswith("KZXXGH")}
    assert plot_rules == dict.fromkeys(
        ("KZXXGH-PLOT", "KZXXGH-USE", "KZXXGH-RJL", "KZXXGH-JZMD", "KZXXGH-JZXG", "KZXXGH-LDL"), "通过")


def test_a_measured_height_over_the_limit_is_caught_at_verification(http, ogc_url, tokens, plot):
    result, findings = check(http, ogc_url, tokens, plot, "规划条件核实", {"jzxg": plot["jzxg"] + 3})
    height = findings["KZXXGH-JZXG"]
    assert height["verdict"] == "不符合" and result["verdict"] == "不符合"
    assert (height["declared"], height["limit"]) == (plot["jzxg"] + 3, plot["jzxg"])
    assert height["basis"]["zh"] == "实测" and "实测" in height["message"]["zh"]
    assert findings["KZXXGH-RJL"]["verdict"] == "提示"       # not measured: said, not passed


@pytest.mark.parametrize(("indicators", "field"), [({"rjl": "高"}, "indicators.rjl"),
                                                   ({"jzmd": 130}, "indicators.jzmd"),
                                                   ({"floors": 9}, "indicators.floors"),
                                                   ("2.5", "indicators")])
def test_bad_indicators_get_a_bilingual_400_naming_the_field(http, ogc_url, tokens, plot, indicators, field):
    r = execute(http, ogc_url, tokens["egov"], "compliance-check",
                {"boundary": plot["boundary"], "stage": "工程报建", "use_code": "0701", "indicators": indicators})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == field and body["message_zh"] and body["message_en"]


def test_the_process_description_lists_the_indicators_input(http, ogc_url, tokens):
    r = http.get(f"{ogc_url}/processes/compliance-check", headers=auth(tokens["egov"]), timeout=60)
    schema = r.json()["inputs"]["indicators"]["schema"]
    assert set(schema["properties"]) == {"rjl", "jzmd", "jzxg", "ldl"}


def plan_node(result):
    (node,) = [p for p in result["tree"] if p["layer"] == "KZXXGH"]
    return node


def test_a_plot_in_the_red_line_fails_the_horizontal_check_there_with_its_area(http, ogc_url, tokens, db):
    r = execute(http, ogc_url, tokens["staff"], "indicator-transmission", {"check": "horizontal"})
    assert r.status_code == 200, r.text
    before = r.json()["tree"]
    assert before["status"] == "合格" and plan_node(before)["status"]["zh"] == "合格"
    square = """SELECT ST_Envelope(ST_Buffer(ST_PointOnSurface(geom), 0.001)) FROM plan.stbhhx
                WHERE valid_to IS NULL AND ST_Within(ST_Envelope(ST_Buffer(ST_PointOnSurface(geom), 0.001)), geom)
                ORDER BY mj DESC LIMIT 1"""
    pid = insert_plot(db, "PYTEST-KG-RED", "100101", square, {})
    try:
        geom = shapely.from_wkb(db.execute("SELECT ST_AsBinary(geom) FROM plan.kzxxgh WHERE id = %s",
                                           (pid,)).fetchone()[0])
        r = execute(http, ogc_url, tokens["staff"], "indicator-transmission", {"check": "horizontal"},
                    {"tree": {}, "report": {}})
    finally:
        db.execute("DELETE FROM plan.kzxxgh WHERE id = %s", (pid,))
    assert r.status_code == 200, r.text
    after = r.json()
    assert base64.b64decode(after["report"]["value"])[:4] == b"%PDF"
    nodes = {(n["kind"], n.get("layer") or n["classes"]): n for n in plan_node(after["tree"])["children"]}
    red = nodes[("outside", "STBHHX")]
    assert red["status"]["zh"] == "不合格" and [f["code"] for f in red["features"]] == ["PYTEST-KG-RED"]
    assert red["area_m2"] == pytest.approx(area_m2(geom), rel=1e-3)
    assert nodes[("outside", "YJJBNT")]["status"]["zh"] == "合格"
    assert after["tree"]["status"] == "不合格"
