"""Plot conditions (规划条件) from overlay rows, without a database: the
indicators input validated field by field, upper and lower limits judged
with both numbers, missing values and missing plots reported."""

import pytest

from onemap.core.errors import OneMapError
from processes.compliance import conditions
from processes.compliance.check import load_config
from processes.compliance.overlay import OverlayRow

CONFIG = load_config()
RULES = {r.id: r for r in CONFIG.rule_sets["plot-conditions"].rules}
SPEC = CONFIG.plot_indicators


def plot(code, m2=500.0, **limits):
    return OverlayRow(rule="", kind="feature", feature_id=1, attributes={"dkbh": code, **limits}, overlap_m2=m2,
                      distance_m=None, geojson=None)


def judge(rule, plots, stage="方案审查", **values):
    return conditions.judge(RULES[rule], plots, conditions.parse(values, SPEC, stage), SPEC, CONFIG.verdicts)


def test_over_the_far_of_the_strictest_plot_is_nonconforming_with_both_numbers():
    j = judge("KZXXGH-RJL", [plot("A", rjl=3.0), plot("B", rjl=2.0)], rjl=2.5)
    assert j.verdict == "不符合" and (j.numbers["declared"], j.numbers["limit"], j.numbers["plots"]) == (2.5, 2.0, ["B"])
    assert "2.5" in j.message.zh and "2" in j.message.zh and "B" in j.message.zh and "申报" in j.message.zh
    assert judge("KZXXGH-RJL", [plot("A", rjl=3.0)], rjl=3.0).verdict == "通过"


def test_green_ratio_is_a_lower_limit_and_verification_reads_measured():
    j = judge("KZXXGH-LDL", [plot("A", ldl=30)], stage="规划条件核实", ldl=25)
    assert j.verdict == "不符合" and j.numbers["basis"]["zh"] == "实测" and "低于" in j.message.zh
    assert judge("KZXXGH-LDL", [plot("A", ldl=30)], ldl=35).verdict == "通过"


def test_no_value_or_no_plot_is_a_notice_that_says_so():
    missing = judge("KZXXGH-JZXG", [plot("A", jzxg=45)])
    assert missing.verdict == "提示" and "indicators.jzxg" in missing.message.zh
    nowhere = judge("KZXXGH-JZXG", [], jzxg=30)
    assert nowhere.verdict == "提示" and "不在控规地块上" in nowhere.message.zh


@pytest.mark.parametrize(("value", "field"), [
    ({"rjl": "高"}, "indicators.rjl"), ({"jzmd": 120}, "indicators.jzmd"), ({"height": 3}, "indicators.height"),
    ({"ldl": True}, "indicators.ldl"), ([1, 2], "indicators")])
def test_bad_indicators_are_refused_naming_the_field(value, field):
    with pytest.raises(OneMapError) as caught:
        conditions.parse(value, SPEC, "工程报建")
    problem = caught.value.problem
    assert (problem.status, problem.field) == (400, field) and problem.zh and problem.en
