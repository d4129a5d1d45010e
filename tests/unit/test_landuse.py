"""The classification tables (onemap.core.landuse): the 2023 planning
classification to its third level, the survey's working classification and
the crosswalk between them, read from config/standards/ and checked against
the tables' own rules, not against a copy of them."""

from __future__ import annotations

import pytest

from onemap.core.landuse import (
    at_level,
    lineage,
    load_classes,
    load_crosswalk,
    survey_code_of,
    to_landuse,
)


def test_three_levels_each_a_child_of_the_level_above():
    classes = load_classes()
    assert len(classes) == 175
    by_level = {level: [c for c in classes.values() if c.level == level] for level in (1, 2, 3)}
    assert all(len(c.code) == 2 and c.parent is None for c in by_level[1])
    for level in (2, 3):
        for c in by_level[level]:
            assert len(c.code) == 2 * level and c.parent == c.code[:-2] and classes[c.parent].level == level - 1
    assert len(by_level[3]) > 20
    # the 2023 edition: 0204 油料园地, 06 split into 0601 农村道路 / 0602 设施农用地
    assert classes["0204"].name.zh == "油料园地" and classes["0205"].name.zh == "其他园地"
    assert classes["0601"].name.zh == "农村道路" and classes["060102"].name.zh == "田间道"
    assert classes["100101"].name.zh == "一类工业用地" and classes["120803"].name.zh == "社会停车场用地"


def test_lineage_and_levels():
    assert lineage("100101") == ("100101", "1001", "10")
    assert lineage("16") == ("16",)
    assert lineage("999999") == ()
    assert at_level("100101", 1) == "10" and at_level("100101", 2) == "1001" and at_level("16", 3) == "16"


def test_every_survey_class_maps_to_a_planning_class():
    classes = load_classes()
    crosswalk = load_crosswalk()
    assert crosswalk and all(c.landuse_code in classes for c in crosswalk.values())
    assert {c.kind for c in crosswalk.values()} == {"same", "class", "approx"}
    # whole classes map to a level-1 class
    assert all(len(c.landuse_code) == 2 for c in crosswalk.values() if c.kind == "class")


@pytest.mark.parametrize("survey, planning, kind", [
    ("0601", "1001", "same"),     # 工业用地, not 农村道路
    ("1006", "0601", "same"),     # 农村道路
    ("0702", "0703", "same"),     # 农村宅基地
    ("05H1", "09", "class"),
    ("08H1", "0801", "approx"),
    ("1203", "2303", "same"),     # 田坎
])
def test_the_crosswalk(survey, planning, kind):
    mapped = to_landuse(survey)
    assert (mapped.landuse_code, mapped.kind) == (planning, kind)


def test_survey_code_of_a_planning_class():
    assert survey_code_of("1701") == "1101" and survey_code_of("1001") == "0601"
    assert survey_code_of("0801") is None          # only approximately 08H1: never written as exact
    assert to_landuse("9999") is None
