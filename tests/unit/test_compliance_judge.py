"""Verdicts of findings from overlay rows (no database): tolerance, within,
compatibility, distance, rules that do not apply."""

import pytest

from processes.compliance.check import judge, load_config
from processes.compliance.overlay import OverlayRow

CONFIG = load_config()
RULE_SET = CONFIG.rule_sets["land-preexamination"]
RULES = {r.id: r for r in RULE_SET.rules}
TOTAL = 10_000.0


def row(rule, m2, kind="feature", fid=1, **attrs):
    return OverlayRow(rule=rule, kind=kind, feature_id=fid if kind == "feature" else None, attributes=attrs,
                      overlap_m2=m2, distance_m=None, geojson=None)


def test_overlap_within_tolerance_passes():
    finding = judge(RULES["STBHHX-OCCUPY"], [row("STBHHX-OCCUPY", 0.5, hxbh="A")], "1001", TOTAL, CONFIG, RULE_SET)
    assert finding["verdict"] == "通过" and finding["count"] == 0 and finding["message"]["zh"] == "未发现问题"


def test_red_line_overlap_is_prohibited_with_areas():
    finding = judge(RULES["STBHHX-OCCUPY"], [row("STBHHX-OCCUPY", 2000.0, hxbh="A"), row("STBHHX-OCCUPY", 666.67,
                                                                                          fid=2, hxbh="B")],
                    "1001", TOTAL, CONFIG, RULE_SET)
    assert finding["verdict"] == "禁止" and finding["verdict_en"] == "prohibited"
    assert finding["overlap_m2"] == pytest.approx(2666.67) and finding["overlap_mu"] == pytest.approx(4.0, abs=1e-3)
    assert finding["share"] == pytest.approx(0.266667, abs=1e-6)
    assert [f["hxbh"] for f in finding["features"]] == ["A", "B"]  # largest first
    assert "2,666.67" in finding["message"]["zh"]


def test_within_counts_the_part_outside():
    rows = [row("CZKFBJ-URBAN", 9000.0, bjbh="Z"), row("CZKFBJ-URBAN", 1000.0, kind="part")]
    finding = judge(RULES["CZKFBJ-URBAN"], rows, "1001", TOTAL, CONFIG, RULE_SET)
    assert finding["verdict"] == "限制" and finding["overlap_m2"] == 1000.0
    assert finding["features"][0]["verdict"] == "通过"


def test_compatibility_judges_each_feature_and_the_worst_wins():
    rows = [row("GHYDYH-USE", 6000.0, fid=1, ydyhdm="1001"), row("GHYDYH-USE", 3000.0, fid=2, ydyhdm="0701"),
            row("GHYDYH-USE", 1000.0, fid=3, ydyhdm="0103")]
    finding = judge(RULES["GHYDYH-USE"], rows, "1001", TOTAL, CONFIG, RULE_SET)
    assert {f["id"]: f["verdict"] for f in finding["features"]} == {1: "通过", 2: "不符合", 3: "不符合"}
    assert finding["verdict"] == "不符合" and finding["overlap_m2"] == 4000.0


def test_rule_not_applying_to_the_use():
    finding = judge(RULES["YJJBNT-MAJOR"], [], "1001", TOTAL, CONFIG, RULE_SET)
    assert not finding["applicable"] and finding["verdict"] == "通过"
    assert "不适用" in finding["message"]["zh"]


def test_distance_rule():
    near = OverlayRow(rule="DZZHD-NEAR", kind="feature", feature_id=7, attributes={"zhdbh": "H7"}, overlap_m2=50.0,
                      distance_m=120.0, geojson=None)
    finding = judge(RULES["DZZHD-NEAR"], [near, row("DZZHD-NEAR", 50.0, kind="part")], "1001", TOTAL, CONFIG,
                    RULE_SET)
    assert finding["verdict"] == "提示" and finding["features"][0]["distance_m"] == 120.0
    assert "200" in finding["message"]["zh"]


def test_before_any_evaluation_the_unsuitable_area_rule_says_so_and_passes():
    rule = RULES["CZJSBSYQ-NOTICE"]
    finding = judge(rule, [row(rule.id, 0.0, kind="empty")], "1001", TOTAL, CONFIG, RULE_SET)
    assert finding["verdict"] == "通过" and finding["count"] == 0 and finding["overlap_m2"] == 0
    assert "尚无双评价结果" in finding["message"]["zh"] and "No double evaluation yet" in finding["message"]["en"]


def test_unsuitable_area_is_a_notice_with_its_area_for_construction_uses():
    rule = RULES["CZJSBSYQ-NOTICE"]
    finding = judge(rule, [row(rule.id, 1500.0, pjbh="run")], "1001", TOTAL, CONFIG, RULE_SET)
    assert finding["verdict"] == "提示" and finding["overlap_m2"] == 1500.0
    assert "1,500.00" in finding["message"]["zh"]
    assert judge(rule, [], "0101", TOTAL, CONFIG, RULE_SET)["applicable"] is False   # farmland: not a construction use
