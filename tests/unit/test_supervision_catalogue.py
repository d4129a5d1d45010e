"""The indicator catalogue as data: the configured files hold together, and
an official table is checked row by row."""

from __future__ import annotations

import shutil

import pytest

from onemap.core.errors import OneMapError
from processes.supervision import catalogue, models

HEADER = "code,name_zh,name_en,system,dimension,category,unit,type,direction,definition\n"
GOOD = "TJ-X1,城市特色指标,City indicator,checkup,安全,推荐,%,预期性,higher,口径\n"


def test_configured_catalogue_resolves():
    catalogue.check_catalogue()
    systems = {s.id: s for s in catalogue.load_systems()}
    guide = [c for codes in systems["guide-35"].groups.values() for c in codes]
    assert len(guide) == len(set(guide)) == 35
    assert set(systems["checkup"].groups) == {"安全", "创新", "协调", "绿色", "开放", "共享"}


def test_the_land_indicators_are_computed_from_the_map():
    indicators = catalogue.load_indicators()
    computable = {c for c, i in indicators.items() if i.model}
    # the One Map data computes at least the land indicators of the guide
    assert {"ZB01", "ZB03", "ZB04", "ZB05", "ZB06", "ZB07", "ZB09", "ZB24"} <= computable


def test_a_system_maps_only_its_members(tmp_path):
    directory = tmp_path / "indicators"
    shutil.copytree(catalogue.indicators_dir(), directory)
    systems = directory / "systems.yaml"
    systems.write_text(systems.read_text(encoding="utf-8").replace("maps: [ZB04, ZB05]", "maps: [ZB04, ZB99]", 1),
                       encoding="utf-8")
    with pytest.raises(catalogue.CatalogueError, match="maps ZB99 are not members"):
        catalogue.check_catalogue(tmp_path)


def test_a_good_table_parses():
    rows = catalogue.parse_official_table(HEADER + GOOD)
    assert [r.code for r in rows] == ["TJ-X1"]
    assert rows[0].item["dimension"] == "安全"


@pytest.mark.parametrize(("body", "field"), [
    (GOOD + "TJ-X2,名称,Name,checkup,安全,推荐,%,约束,higher,口径\n", "row 3: type"),
    (GOOD + "TJ-X2,名称,Name,checkup,安全,推荐,%,预期性,up,口径\n", "row 3: direction"),
    (GOOD + GOOD, "row 3: code"),
    ("TJ-X2,,Name,checkup,安全,推荐,%,预期性,higher,口径\n", "row 2: name_zh"),
])
def test_a_bad_row_is_named(body, field):
    with pytest.raises(OneMapError) as caught:
        catalogue.parse_official_table(HEADER + body)
    assert caught.value.problem.field == field
    assert caught.value.problem.status == 422
    assert "行" in caught.value.problem.zh and "Row" in caught.value.problem.en


def test_a_missing_column_is_named():
    with pytest.raises(OneMapError) as caught:
        catalogue.parse_official_table("code,name_zh\nX,名\n")
    assert "name_en" in caught.value.problem.en


@pytest.mark.parametrize("params", [
    {"layer": "DLTB", "near": {"layer": "DLTB"}, "distance_m": 0},
    {"layer": "DLTB", "near": {"layer": "DLTB"}, "distance_m": "300"},
    {"layer": "DLTB", "distance_m": 300},
])
def test_a_walking_share_needs_a_near_layer_and_a_positive_distance(params):
    with pytest.raises(OneMapError) as caught:
        models.areas_within_distance(None, 2025, params)  # refused before the database is asked
    assert caught.value.problem.status == 422 and "distance_m" in caught.value.problem.zh
