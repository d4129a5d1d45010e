"""The township and special-plan editions of the package specification:
what the township edition changes of the municipal one, and the special
plan kinds, each a layer with fields of its own, the stored ones in the
registry."""

from __future__ import annotations

from onemap.core.registry import load_layers
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
