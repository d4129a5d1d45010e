"""The demo plan's two versions: 2021-2035-v1 in force from 2023, its 2025
amendment 2021-2035-v2 (规划修改: the reserved land inside the urban
development boundary assigned). The history lists both, the comparison
process's own example finds exactly the assigned parcels (areas checked
with pyproj), and a monitoring year is measured on the version in force
at its end."""

from __future__ import annotations

import pytest
import requests
import shapely
from pyproj import Geod

from onemap.demo import amendment
from onemap.demo.generate import PLAN_VERSION
from processes.supervision import monitoring
from tests.conftest import auth

CGCS2000 = Geod(a=6378137.0, f=1 / 298.257222101)


def execute(ogc_url: str, token: str, process: str, inputs: dict) -> dict:
    r = requests.post(f"{ogc_url}/processes/{process}/execution", json={"inputs": inputs},
                      headers=auth(token), timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_history_lists_the_plan_and_its_amendment_one_after_the_other(ogc_url, tokens):
    versions = {v["plan_version"]: v for v in execute(ogc_url, tokens["staff"], "plan-history", {})["versions"]}
    first, second = versions[PLAN_VERSION], versions[amendment.VERSION]
    assert first["valid_to"] == second["valid_from"] == amendment.VALID_FROM.isoformat()
    assert not first["in_force"]
    # a whole plan each: the master plan's layers carried into the amendment (the detailed and special
    # plans too, but other test files add features of their own to those meanwhile)
    master = ("GHYDYH", "STBHHX", "YJJBNT", "CZKFBJ", "LSWHBHX")
    assert [first["features"][k] for k in master] == [second["features"][k] for k in master]
    assert first["features"]["GHYDYH"] > 0


def test_the_comparison_example_finds_the_amended_parcels(ogc_url, tokens, db):
    v1 = {bsm: (code, pid, shapely.from_wkb(wkb)) for bsm, code, pid, wkb in db.execute(
        "SELECT bsm, ydyhdm, id, ST_AsBinary(geom) FROM plan.ghydyh WHERE plan_version = %s", (PLAN_VERSION,))}
    amended = {bsm: (code, amendment.amended(code, pid), g) for bsm, (code, pid, g) in v1.items()
               if amendment.amended(code, pid) != code}
    assert {before for before, _, _ in amended.values()} == {"16", "100102"}
    described = requests.get(f"{ogc_url}/processes/layer-compare", headers=auth(tokens["staff"]), timeout=60).json()
    inputs = described["example"]["inputs"]
    assert (inputs["from_version"], inputs["to_version"]) == (PLAN_VERSION, amendment.VERSION)
    result = execute(ogc_url, tokens["staff"], "layer-compare", inputs)["comparison"]
    changes = result["changes"]
    assert (changes["added"], changes["removed"], changes["changed_shape"]) == (0, 0, 0)
    assert {f["key"]: (f["code_from"], f["code_to"]) for f in changes["features"]} == {
        bsm: (before, after) for bsm, (before, after, _) in amended.items()}
    # the area moved out of each class, on the ellipsoid, at the comparison's level (four digits)
    moved: dict[str, float] = {}
    for before, after, g in amended.values():
        area = abs(CGCS2000.geometry_area_perimeter(shapely.orient_polygons(g))[0])
        moved[before[:4]] = moved.get(before[:4], 0.0) - area
        moved[after[:4]] = moved.get(after[:4], 0.0) + area
    by_class = {c["code"]: c["change_m2"] for c in result["by_class"] if c["change_m2"]}
    assert by_class == {code: pytest.approx(m2, rel=1e-4) for code, m2 in moved.items()}


def test_a_year_is_measured_on_the_plan_version_in_force_at_its_end(db):
    values = {year: {v.xzqdm: v for v in monitoring.compute(db, year, ["ZB01"])} for year in (2024, 2025)}
    city = next(x for x, in db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '市'"))
    before, after = values[2024][city], values[2025][city]
    assert before.data_versions["STBHHX"] == [PLAN_VERSION]
    assert after.data_versions["STBHHX"] == [amendment.VERSION]
    assert after.value == pytest.approx(before.value, rel=1e-12)  # the amendment keeps the red line
