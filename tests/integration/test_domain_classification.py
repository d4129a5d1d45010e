"""Domain fidelity on the running stack: the 2023 classification to its third
level and survey-coded current land use (DLTB, 三调工作分类).

A survey-coded 0601 parcel is 工业用地: every comparison of current use with
the plan — the compliance check's DLTB rules, layer-compare, area-statistics,
the indicators — counts it as industrial (planning 1001), never as a rural
road (planning 0601). Known answers come from the demo data in the database
and the crosswalk table read here on its own."""

from __future__ import annotations

import csv

import pytest
import requests
import shapely
from shapely.geometry import box, mapping

from onemap.core.settings import ROOT, load_yaml
from processes.supervision.models import Evaluator, ModelVersion
from tests.conftest import auth
from tests.integration.test_compliance import execute, finding, geodesic_area

with open(ROOT / "config" / "standards" / "survey-to-landuse.csv", encoding="utf-8") as _f:
    CROSSWALK = {row["survey_code"]: (row["landuse_code"], row["kind"]) for row in csv.DictReader(_f)}


def inside(db, dlbm: str) -> tuple[shapely.Geometry, str, str]:
    """A square well inside the roomiest DLTB parcel of a survey code (inside
    its largest inscribed circle), the parcel's bsm and its township."""
    row = db.execute("""
        SELECT ST_X(c.center), ST_Y(c.center), c.radius, d.bsm, left(d.zldwdm, 9)
        FROM (SELECT * FROM base.dltb WHERE dlbm = %s ORDER BY tbmj DESC LIMIT 20) d,
             LATERAL ST_MaximumInscribedCircle(d.geom) c
        ORDER BY c.radius DESC LIMIT 1""", (dlbm,)).fetchone()
    assert row, f"no DLTB parcel of survey code {dlbm} in the demo city"
    x, y, r, bsm, township = row
    half = r * 0.6
    return box(x - half, y - half, x + half, y + half), bsm, township


@pytest.fixture(scope="module")
def industrial(db):
    return inside(db, "0601")        # 工业用地 in the survey


@pytest.fixture(scope="module")
def rural_road(db):
    return inside(db, "1006")        # 农村道路 in the survey, 0601 in the plan


@pytest.fixture(scope="module")
def government(db):
    return inside(db, "08H1")        # 机关团体新闻出版用地: only approximately 0801


def post(ogc_url, process, token, inputs):
    r = requests.post(f"{ogc_url}/processes/{process}/execution", headers=auth(token), timeout=600,
                      json={"inputs": inputs})
    assert r.status_code == 200, r.text[:500]
    return r.json()


def test_level_3_use_codes_are_accepted_and_unknown_ones_refused(http, ogc_url, tokens, industrial):
    square, _, _ = industrial
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "用地预审",
                                                 "use_code": "100101", "case_id": "DOMAIN-L3"})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["use_code"] == "100101"
    # a level-3 code takes its parents' rules: the urban-boundary rule of 07–14 applies to 100101
    assert any(f["rule"] == "CZKFBJ-URBAN" for f in result["findings"])
    bad = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "用地预审",
                                                   "use_code": "100109"})
    assert bad.status_code == 400 and bad.json()["field"] == "use_code" and "100109" in bad.json()["message_zh"]


def test_compliance_reads_dltb_through_the_crosswalk(http, ogc_url, tokens, industrial, rural_road):
    """农用地转用 (DLTB-FARMLAND, planning classes 02/03/04/06): a survey 0601
    is industry, not farmland; a survey 1006 (农村道路) is planning 0601, farmland."""
    square, bsm, _ = industrial
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "农用地转用报批",
                                                 "use_code": "1001", "case_id": "DOMAIN-IND"})
    assert r.status_code == 200, r.text
    farmland = finding(r.json()["result"], "DLTB-FARMLAND")
    assert farmland["overlap_m2"] == 0 and farmland["features"] == []

    square, bsm, _ = rural_road
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "农用地转用报批",
                                                 "use_code": "1001", "case_id": "DOMAIN-ROAD"})
    assert r.status_code == 200, r.text
    farmland = finding(r.json()["result"], "DLTB-FARMLAND")
    assert farmland["overlap_m2"] == pytest.approx(geodesic_area(square), rel=1e-5)
    [feature] = farmland["features"]
    assert (feature["bsm"], feature["dlbm"], feature["landuse_code"], feature["crosswalk"]) == \
        (bsm, "1006", "0601", "same")


def test_statistics_and_comparison_count_survey_0601_as_industrial(ogc_url, tokens, industrial, government):
    square, _, _ = industrial
    gov_square, _, _ = government
    both = mapping(shapely.MultiPolygon([square, gov_square]))
    stats = post(ogc_url, "area-statistics", tokens["staff"], {"layer": "DLTB", "boundary": both})["statistics"]
    by_class = {r["code"]: r for r in stats["by_class"]}
    assert set(by_class) == {"1001", "0801"}
    assert by_class["1001"]["area_m2"] == pytest.approx(geodesic_area(square), rel=1e-5)
    assert by_class["1001"]["name"] == "工业用地" and not by_class["1001"]["approx"]
    assert by_class["0801"]["approx"]          # 08H1 → 0801 is only approximate, and says so
    level1 = post(ogc_url, "area-statistics", tokens["staff"], {"layer": "DLTB", "boundary": both,
                                                               "class_level": 1})["statistics"]
    assert {r["code"] for r in level1["by_class"]} == {"10", "08"}

    compared = post(ogc_url, "layer-compare", tokens["staff"],
                    {"from_layer": "DLTB", "to_layer": "GHYDYH", "boundary": mapping(square)})["comparison"]
    current = {r["code"]: r["from_m2"] for r in compared["by_class"] if r["from_m2"]}
    assert current == {"1001": pytest.approx(geodesic_area(square), rel=1e-5)}


def test_statistics_roll_level_3_up_to_its_parents(ogc_url, tokens, db):
    # a 2 km square around a town's level-3 parcel
    area = db.execute("""SELECT ST_AsGeoJSON(ST_Expand(ST_PointOnSurface(geom), 0.01))::json FROM plan.ghydyh
                         WHERE length(ydyhdm) = 6 ORDER BY id LIMIT 1""").fetchone()[0]
    by_level = {level: {r["code"]: r["area_m2"] for r in post(
        ogc_url, "area-statistics", tokens["staff"],
        {"layer": "GHYDYH", "boundary": area, "class_level": level})["statistics"]["by_class"]}
        for level in (1, 2, 3)}
    assert any(len(code) == 6 for code in by_level[3])
    for level, digits in ((2, 4), (1, 2)):
        rolled: dict[str, float] = {}
        for code, area in by_level[level + 1].items():
            rolled[code[:digits]] = rolled.get(code[:digits], 0.0) + area
        assert rolled.keys() == by_level[level].keys()
        for code, area in by_level[level].items():
            assert rolled[code] == pytest.approx(area, abs=0.05), code
    bad = requests.post(f"{ogc_url}/processes/area-statistics/execution", headers=auth(tokens["staff"]),
                        timeout=60, json={"inputs": {"layer": "GHYDYH", "class_level": 4}})
    assert bad.status_code == 400 and bad.json()["field"] == "class_level"


def test_indicators_of_current_land_use_agree_with_the_crosswalk(db, industrial):
    """The DLTB models (survey classes) give, per township, the area of the
    parcels whose planning class through the crosswalk is cropland (01) or
    urban and rural construction land (07–15 but 水工设施 1311, which the
    survey counts as water 1109) — the industrial parcel among them."""
    _, bsm, township = industrial
    models = load_yaml(ROOT / "config" / "indicators" / "models.yaml")["models"]
    chosen = {name: ModelVersion(name, models[name]["version"], models[name]["kind"], models[name])
              for name in ("cropland-area", "urban-rural-construction-area")}
    evaluator = Evaluator(db, 2099, lambda code: None, chosen)   # no later change undoes the current state
    by_code = dict(db.execute("""
        SELECT d.dlbm, sum(ST_Area(ST_Intersection(d.geom, t.geom)::geography))
        FROM base.dltb d JOIN base.xzq t ON t.xzqdm = %s AND d.geom && t.geom AND ST_Intersects(d.geom, t.geom)
        GROUP BY d.dlbm""", (township,)).fetchall())
    assert "0601" in by_code and db.execute("SELECT dlbm FROM base.dltb WHERE bsm = %s", (bsm,)).fetchone()[0] == "0601"

    def by_plan(prefixes: tuple[str, ...], but: tuple[str, ...] = ()) -> float:
        return sum(area for code, area in by_code.items()
                   if CROSSWALK[code][0].startswith(prefixes) and not CROSSWALK[code][0].startswith(but))

    assert evaluator.model("cropland-area").values[township] == pytest.approx(by_plan(("01",)), rel=1e-6)
    construction = by_plan(("07", "08", "09", "10", "11", "13", "14", "15"), but=("1311",))
    assert construction > 0
    assert evaluator.model("urban-rural-construction-area").values[township] == pytest.approx(construction, rel=1e-6)
