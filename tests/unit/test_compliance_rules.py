"""Rule sets and the compatibility matrix load from config/ and mean what
compliance.md says."""

from pathlib import Path

import pytest
import yaml

from onemap.core.registry import load_layers
from onemap.core.settings import ROOT
from processes.compliance.check import load_config
from processes.compliance.rules import RuleError, load_rule_sets, load_verdicts, rule_set_for

STAGES = ["立项", "选址", "用地预审", "农用地转用报批", "供地", "用地", "方案审查", "工程报建", "批后管理", "规划条件核实"]


def test_every_business_stage_has_a_rule_set():
    config = load_config()
    for stage in STAGES:
        rule_set = rule_set_for(config.rule_sets, stage)
        assert rule_set is not None, stage
        assert rule_set.version and len(rule_set.digest) == 64


def test_extends_adds_and_removes_rules():
    sets = load_config().rule_sets
    base = [r.id for r in sets["site-selection"].rules]
    pre = [r.id for r in sets["land-preexamination"].rules]
    assert pre[: len(base)] == base and "DLTB-CROPLAND" in pre
    assert "DZZHD-NEAR" not in [r.id for r in sets["permit"].rules]
    assert {"DLTB-CROPLAND", "DLTB-FARMLAND"} <= {r.id for r in sets["conversion-approval"].rules}


def test_verdicts_order_and_worst():
    verdicts = load_config().verdicts
    assert verdicts.levels == ("通过", "提示", "限制", "不符合", "禁止")
    assert verdicts.worst(["提示", "禁止", "限制"]) == "禁止"
    assert verdicts.worst([]) == "通过"


@pytest.mark.parametrize("planned, project, level", [
    ("1001", "1001", "通过"),   # same code
    ("1001", "1002", "通过"),   # same level-1 class
    ("1001", "1101", "通过"),   # listed compatible
    ("0701", "0901", "限制"),   # conditional
    ("0701", "1001", "不符合"),
    ("0101", "0901", "不符合"),
    ("0103", "060201", "通过"),  # planting facilities on farmland
    ("0103", "060202", "限制"),  # livestock facilities: conditional (0602 and the rest of its class)
    # level 3 inherits its parents' entries unless it has one of its own
    ("100102", "0902", "限制"),  # 二类工业: the entry of 10
    ("100101", "0902", "通过"),  # 一类工业: its own entry
    ("100101", "100103", "通过"),  # same level-1 class
    ("070101", "0901", "限制"),
    ("1001", "070102", "不符合"),
    ("16", "0701", "限制"),     # reserved land
])
def test_compatibility_matrix(planned, project, level):
    assert load_config().rule_sets["site-selection"].compatibility.level(planned, project) == level


def test_rule_applies_by_use_code():
    rules = {r.id: r for r in load_config().rule_sets["site-selection"].rules}
    assert rules["YJJBNT-OCCUPY"].applies_to("1001") and not rules["YJJBNT-OCCUPY"].applies_to("1202")
    assert rules["YJJBNT-MAJOR"].applies_to("1202") and not rules["YJJBNT-MAJOR"].applies_to("1001")
    assert rules["CZKFBJ-URBAN"].applies_to("0701") and not rules["CZKFBJ-URBAN"].applies_to("0703")


def _rules_dir(tmp_path: Path, rule: dict) -> Path:
    (tmp_path / "compatibility.yaml").write_text((ROOT / "config/rules/compatibility.yaml").read_text("utf-8"), "utf-8")
    data = {"id": "x", "stages": ["测试"], "title": {"zh": "测", "en": "t"}, "version": "1", "rules": [rule]}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return tmp_path


GOOD = {"id": "R", "title": {"zh": "红线", "en": "red"}, "layer": "STBHHX", "relation": "outside",
        "verdict": "禁止", "message": {"zh": "占用", "en": "occupied"}}


@pytest.mark.parametrize("change, words", [
    ({"relation": "near"}, "relation"),
    ({"layer": "NOPE"}, "layer NOPE"),
    ({"verdict": "maybe"}, "verdict"),
    ({"filter": {"field": "geom; drop table x", "prefixes": ["1"]}}, "field"),
    ({"relation": "distance"}, "buffer_m"),
    ({"message": {"zh": "只有中文"}}, "zh and en"),
])
def test_bad_rule_files_are_refused_with_the_reason(tmp_path, change, words):
    verdicts = load_verdicts()
    load_rule_sets(_rules_dir(tmp_path, GOOD), load_layers(), verdicts)  # the good one loads
    with pytest.raises(RuleError, match=words):
        load_rule_sets(_rules_dir(tmp_path, {**GOOD, **change}), load_layers(), verdicts)
