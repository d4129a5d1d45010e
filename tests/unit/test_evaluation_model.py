"""双评价 on 4×4 rasters with hand-checked answers: each combination-matrix
rule, the corrections, the slope override, nodata cells; and the method's
validation (unknown class, incomplete matrix)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from onemap.core.errors import OneMapError
from processes.evaluation.method import find_method, parse_method
from processes.evaluation.model import evaluate

CONFIG = Path(__file__).resolve().parents[2] / "config" / "evaluation"
DOC = yaml.safe_load((CONFIG / "double-evaluation.yaml").read_text(encoding="utf-8"))


def factors(**overrides: np.ndarray) -> dict[str, np.ndarray]:
    """A benign 4×4 place: flat, wet, loam, no hazards, far from towns, no
    ecological source, lowland."""
    base = {"elevation": 50.0, "slope": 1.0, "rainfall": 1300.0, "soil_texture": 1, "soil_organic": 20.0,
            "landcover": 101, "ecological_source": 0, "hazard_density": 0.0, "distance_road": 500.0,
            "distance_town": 30_000.0}
    out = {k: np.full((4, 4), v, dtype=np.float32) for k, v in base.items()}
    out.update({k: np.asarray(v, dtype=np.float32) for k, v in overrides.items()})
    return out


ALL = np.ones((4, 4), bool)
SUITABLE, FAIR, UNSUITABLE = 1, 2, 3


def run(doc: dict | None = None, valid: np.ndarray = ALL, **f: np.ndarray) -> dict[str, np.ndarray]:
    method = parse_method(doc or DOC, "test.yaml")
    return evaluate(method, factors(**f), valid)


def test_the_configured_method_loads_with_its_version() -> None:
    method = find_method(None, CONFIG)
    assert method.version == DOC["version"]
    assert set(method.factors) <= {"elevation", "slope", "rainfall", "soil_texture", "ecological_source",
                                  "hazard_density", "distance_town"}


def test_agriculture_matrix_land_by_water() -> None:
    # columns: slope grades 高..低 (1°, 4°, 10°, 20°); rows: rainfall 高, 较高, 中等, 低
    slope = np.tile([1.0, 4.0, 10.0, 20.0], (4, 1))
    rain = np.repeat([[1300.0], [1000.0], [600.0], [100.0]], 4, axis=1)
    got = run(slope=slope, rainfall=rain)["agriculture"]
    # matrix[land][water] -> 高/较高 适宜, 中等 一般适宜, 较低/低 不适宜
    expected = np.array([
        [SUITABLE, SUITABLE, SUITABLE, FAIR],            # water 高: 高 高 较高 中等
        [SUITABLE, SUITABLE, FAIR, UNSUITABLE],          # water 较高: 高 较高 中等 较低
        [SUITABLE, SUITABLE, FAIR, UNSUITABLE],          # water 中等: 较高 较高 中等 较低
        [UNSUITABLE, UNSUITABLE, UNSUITABLE, UNSUITABLE]])  # water 低: 低
    np.testing.assert_array_equal(got, expected)


def test_a_matrix_cell_changed_in_the_method_changes_the_result() -> None:
    doc = copy.deepcopy(DOC)
    doc["agriculture"]["matrix"][3][0] = "高"          # land 较低 (slope 15–25°) × water 高
    got = run(doc, slope=np.full((4, 4), 20.0))["agriculture"]
    assert (got == SUITABLE).all()
    assert (run(slope=np.full((4, 4), 20.0))["agriculture"] == FAIR).all()


def test_slope_above_the_limit_is_unsuitable_whatever_else() -> None:
    doc = copy.deepcopy(DOC)
    doc["ecology"]["components"][1]["breaks"] = [60, 50]   # so that only the slope override acts
    slope = np.array([[24.9, 25.0, 25.1, 40.0]] * 4)
    got = run(doc, slope=slope)
    # agriculture: 15–25° is land 较低 × water 高 -> 中等 -> 一般适宜; above 25°: 不适宜
    np.testing.assert_array_equal(got["agriculture"][0], [FAIR, FAIR, UNSUITABLE, UNSUITABLE])
    # construction: 15–25° is land 较低 × water 高 -> 中等 -> 一般适宜; above 25°: 不适宜
    np.testing.assert_array_equal(got["construction"][0], [FAIR, FAIR, UNSUITABLE, UNSUITABLE])


def test_hazard_corrections_lower_one_grade_and_extreme_hazard_excludes() -> None:
    hazard = np.array([[0.0, 0.2, 0.3, 0.3]] * 4)       # 低, 高, 极高
    slope = np.full((4, 4), 10.0)                        # construction land 中等 × water 高 -> 较高
    got = run(hazard_density=hazard, slope=slope)["construction"]
    np.testing.assert_array_equal(got[0], [SUITABLE, FAIR, UNSUITABLE, UNSUITABLE])


def test_location_raises_construction_one_grade() -> None:
    slope = np.full((4, 4), 20.0)                        # land 较低 × water 高 -> 中等 -> 一般适宜
    town = np.array([[1000.0, 1000.0, 30_000.0, 30_000.0]] * 4)   # ≤ 2 km: location 高 raises one grade
    got = run(slope=slope, distance_town=town)["construction"]
    np.testing.assert_array_equal(got[0], [SUITABLE, SUITABLE, FAIR, FAIR])


def test_ecology_is_the_most_important_component_and_excludes_development() -> None:
    source = np.array([[1, 0, 0, 0]] * 4)
    slope = np.array([[1.0, 1.0, 20.0, 1.0]] * 4)          # 15–25° -> 重要 (水土保持)
    rain = np.array([[1300.0, 1300.0, 1300.0, 1800.0]] * 4)  # ≥ 1750 -> 极重要 (水源涵养)
    got = run(ecological_source=source, slope=slope, rainfall=rain)
    np.testing.assert_array_equal(got["ecology"][0], [1, 3, 2, 1])
    np.testing.assert_array_equal(got["agriculture"][0][[0, 3]], [UNSUITABLE, UNSUITABLE])
    np.testing.assert_array_equal(got["construction"][0][[0, 3]], [UNSUITABLE, UNSUITABLE])


def test_nodata_cells_stay_nodata() -> None:
    valid = ALL.copy()
    valid[1, 2] = valid[3, 3] = False
    got = run(valid=valid)
    for name in ("ecology", "agriculture", "construction"):
        assert got[name][1, 2] == 0 and got[name][3, 3] == 0
        assert (got[name][valid] > 0).all()


@pytest.mark.parametrize(("change", "part"), [
    (lambda d: d["agriculture"]["matrix"][1].__setitem__(2, "很高"), "agriculture.matrix[1][2]"),
    (lambda d: d["construction"]["matrix"].pop(), "construction.matrix"),
    (lambda d: d["agriculture"]["matrix"][0].pop(), "agriculture.matrix"),
    (lambda d: d["agriculture"]["overrides"][0].__setitem__("class", "禁止"), "agriculture.overrides[0].class"),
    (lambda d: d["single_factors"]["water"].__setitem__("factor", "snow"), "single_factors.water.factor"),
    (lambda d: d["single_factors"]["water"]["breaks"].pop(), "single_factors.water.breaks"),
    (lambda d: d["agriculture"]["mapping"].pop("中等"), "agriculture.mapping"),
])
def test_a_bad_method_names_the_part_in_both_languages(change, part: str) -> None:
    doc = copy.deepcopy(DOC)
    change(doc)
    with pytest.raises(OneMapError) as caught:
        parse_method(doc, "bad.yaml")
    problem = caught.value.problem.as_dict()
    for message in (problem["message_zh"], problem["message_en"]):
        assert part in message and "bad.yaml" in message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["message_zh"])
    assert problem["status"] == 400


def test_the_risk_method_loads_and_refuses_levels_out_of_order_or_unknown() -> None:
    from processes.evaluation.risk import find_risk_method, parse_risk

    doc = yaml.safe_load((CONFIG / "risk.yaml").read_text(encoding="utf-8"))
    method = find_risk_method(None)
    assert method.version == doc["version"]
    assert method.level({"hazard": 0.2}) == "高风险" and method.level({"hazard": 0.06}) == "中风险"
    assert method.level({}) == "低风险"
    # cropland lost above the threshold: at least its level, never lower than the shares say
    above = method.cropland_loss.threshold_ha + 0.01
    assert method.level({}, above) == method.cropland_loss.level == "中风险"
    assert method.level({}, method.cropland_loss.threshold_ha) == "低风险"
    assert method.level({"hazard": 0.2}, above) == "高风险"
    bad = {**doc, "cropland_loss": {**doc["cropland_loss"], "level": "极高风险"}}
    with pytest.raises(OneMapError) as caught:
        parse_risk(bad, "risk.yaml")
    assert "cropland_loss.level" in str(caught.value.problem.as_dict())
    doc["levels"].reverse()
    with pytest.raises(OneMapError) as caught:
        parse_risk(doc, "risk.yaml")
    assert "levels" in str(caught.value.problem.as_dict())
