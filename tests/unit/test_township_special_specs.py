"""The township and special-plan editions of the package specification:
what the township edition changes of the municipal one, and the special
plan kinds, each a layer with fields of its own, the stored ones in the
registry."""

from __future__ import annotations

import shutil

import pytest

from onemap.core.registry import load_layers
from onemap.core.settings import config_dir
from processes.plan.township import check_config
from processes.qc.spec import editions

COMMON = {"BSM", "SSMC", "YDYHDM", "MJ"}


def test_the_township_edition_changes_codes_layers_and_targets():
    township, municipal = editions()["township-2024"], editions()["2024"]
    assert not township.default and township.declaration == municipal.declaration
    for layer in ("XZQ", "GHYDYH", "YJJBNT", "GHZB"):
        assert township.layer(layer).field("XZQDM").length == 9
        assert municipal.layer(layer).field("XZQDM").length == 12
    assert township.layer("CJGHDY").required and township.layer("CZJSBJ").required
    assert municipal.layer("CJGHDY") is None and municipal.layer("CZJSBJ") is None
    assert not township.layer("CZKFBJ").required and municipal.layer("CZKFBJ").required
    assert township.layer("GHYDYH").field("GHDYBH") is not None
    rules = {r.id for r in township.rules}
    assert "INDICATOR-ALLOCATION" in rules and "INDICATOR-TARGET" not in rules
    assert {"ATTR-XZQDM", "ATTR-UNIT", "TOPO-GAP-UNIT", "LINE-VILLAGE"} <= rules
    for entry in township.rule("INDICATOR-ALLOCATION").params["allocations"]:
        assert entry["zbmc"] in {i.zbmc for i in township.indicators}


def test_special_plan_kinds_have_fields_of_their_own_and_the_stored_ones_are_plan_layers():
    special = editions()["special-2024"]
    kinds = [layer for layer in special.layers if layer.name.startswith("ZXGH_")]
    assert len(kinds) >= 7
    own = [frozenset(f.name for f in layer.fields) - COMMON for layer in kinds]
    assert all(own) and len(set(own)) > 1
    assert all(COMMON <= {f.name for f in layer.fields} for layer in kinds)
    registry = {layer.id: layer for layer in load_layers()}
    stored = [layer for layer in kinds if layer.publish]
    assert len(stored) >= 3
    for layer in stored:
        entry = registry[layer.publish]
        assert entry.versioned and entry.sensitivity == "internal" and entry.directory[1] == "专项规划"
        assert {f.name.lower() for f in layer.fields} >= set(entry.key_fields)


def test_the_township_settings_must_name_an_edition_and_its_layers(tmp_path):
    shutil.copytree(config_dir(), tmp_path / "config")
    plan = tmp_path / "config" / "plan.yaml"
    assert check_config(tmp_path / "config").edition == "township-2024"
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("edition: township-2024", "edition: township-1999"), encoding="utf-8")
    with pytest.raises(ValueError, match="township-1999"):
        check_config(tmp_path / "config")
    plan.write_text(text.replace("CZJSBJ: plan.xz_czjsbj", "NOPE: plan.xz_czjsbj"), encoding="utf-8")
    with pytest.raises(ValueError, match="NOPE"):
        check_config(tmp_path / "config")
