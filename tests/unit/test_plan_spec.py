"""The package specification files: every edition loads, every rule names
a check that exists, an edition that extends another changes only what it
says, and the reference specification's rule ids are all there."""

from __future__ import annotations

import re

from onemap.core.settings import ROOT
from processes.qc.checks import CHECKS
from processes.qc.spec import default_edition, editions

# The reference specification, kept in the repository so a clone alone
# tests; where the shared original sits beside the repository, the copy
# must not have drifted from it.
REFERENCE = ROOT / "docs" / "reference" / "plan-package.md"
SHARED_ORIGINAL = ROOT.parent / "shared" / "reference" / "plan-package.md"


def test_every_edition_loads_and_every_rule_has_a_check():
    specs = editions()
    assert default_edition().edition == "2024"
    for spec in specs.values():
        assert {rule.check for rule in spec.rules} <= set(CHECKS), spec.edition
        assert spec.domains["landuse"].names["0101"] == "水田"


def test_an_extending_edition_overrides_only_what_it_names():
    new, old = editions()["2024"], editions()["2021"]
    assert {r.id for r in new.rules} - {r.id for r in old.rules} == {
        "LINE-FARMLAND", "INDICATOR-MISMATCH", "INDICATOR-TARGET"}
    assert new.layer("GHZB").required and not old.layer("GHZB").required
    assert old.layer("GHZB").fields == new.layer("GHZB").fields
    assert old.tolerances == new.tolerances


def test_layer_patterns_match_special_plans():
    spec = default_edition()
    assert spec.layer("zxgh_jt").name == "ZXGH_*" and spec.layer("GHYDYH").name == "GHYDYH"
    assert spec.layer("NOPE") is None


def test_the_rule_ids_of_the_reference_specification_are_all_enforced():
    ids = set(re.findall(r"^\| `([A-Z]+-[A-Z]+)` \|", REFERENCE.read_text(encoding="utf-8"), re.M))
    assert len(ids) == 18
    assert ids == {r.id for r in default_edition().rules}


def test_the_reference_copy_is_the_shared_original_where_that_is_at_hand():
    text = REFERENCE.read_text(encoding="utf-8")
    assert "GHYDYH" in text
    if SHARED_ORIGINAL.exists():
        assert text == SHARED_ORIGINAL.read_text(encoding="utf-8")
