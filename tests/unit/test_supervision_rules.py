"""Warning levels and the transmission judgement, as plain functions."""

from __future__ import annotations

import pytest

from onemap.core.settings import config_dir
from processes.supervision.transmission import judge
from processes.supervision.warning import check_config, moving_toward, rules_problem, target_level


@pytest.mark.parametrize(("value", "direction", "level", "threshold"), [
    (99.0, "higher", "red", 100.0),      # below a protection target
    (100.5, "higher", "yellow", 101.0),  # within 1 % above it
    (101.5, "higher", "green", 101.0),
    (100.5, "lower", "red", 100.0),      # above a construction limit
    (99.5, "lower", "yellow", 99.0),
    (98.0, "lower", "green", 99.0),
])
def test_target_levels(value, direction, level, threshold):
    assert target_level(value, 100.0, direction, 1.0) == (level, pytest.approx(threshold))


def node(code, target, value, children=()):
    return {"xzqdm": code, "target": target, "value": value, "children": list(children)}


def test_a_short_allocation_is_a_violation_of_the_parent_only():
    tree = node("city", 10.0, 12.0, [node("a", 4.0, 5.0), node("b", 5.0, 6.0)])  # 4 + 5 < 10
    judge(tree, "higher")
    assert tree["allocation_ok"] is False and tree["value_ok"] is True and tree["status"]["en"] == "violation"
    assert [c["status"]["en"] for c in tree["children"]] == ["pass", "pass"]


def test_a_unit_below_its_allocation_and_missing_data():
    tree = node("city", 10.0, None, [node("a", 6.0, 5.0), node("b", 5.0, None)])
    judge(tree, "higher")
    assert tree["allocation_ok"] is True and tree["value_ok"] is None and tree["status"]["en"] == "pass"
    assert tree["children"][0]["status"]["en"] == "violation"
    assert tree["children"][1]["status"]["en"] == "no data"


@pytest.mark.parametrize(("series", "direction", "moving"), [
    ([10.0, 9.0, 8.5, 8.0], "higher", True),      # falling every year: toward a floor
    ([10.0, 9.0, 9.0, 8.0], "higher", False),     # one year standing still breaks the run
    ([1.0, 2.0, 3.0], "lower", True),             # rising every year: toward a cap
    ([3.0, 2.0, 4.0], "lower", False),
    ([5.0], "higher", False),                     # one year is no trend
])
def test_a_trend_toward_the_target(series, direction, moving):
    assert moving_toward(series, direction) is moving


def test_the_configured_warning_rules_check_and_bad_ones_are_named():
    check_config(config_dir())  # the shipped rules pass
    rules = {"rules": {"t": {"kind": "target", "yellow_margin_pct": 1.0}}, "by_type": {"约束性": "t"}}
    assert rules_problem(rules, {"ZB01": {"warning": ["t"]}}) is None
    bad_kind = {**rules, "rules": {"t": {"kind": "guess"}}}
    assert "guess" in rules_problem(bad_kind, {})[1]
    missing = {**rules, "rules": {**rules["rules"], "c": {"kind": "control_line", "layer": "YJJBNT", "level": "red"}}}
    assert rules_problem(missing, {}) == ("预警规则 c 缺少参数 changed_to", "Warning rule c lacks changed_to")
    assert "nope" in rules_problem(rules, {"ZB01": {"warning": "nope"}})[1]
