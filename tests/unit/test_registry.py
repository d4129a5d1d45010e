from pathlib import Path

import pytest
import yaml

from onemap.core.registry import RegistryError, load_layers


def test_registry_layers_have_what_the_services_need():
    layers = load_layers()
    ids = [layer.id for layer in layers]
    for required in ("XZQ", "DLTB", "GHYDYH", "STBHHX", "YJJBNT", "CZKFBJ", "LSWHBHX", "DZZHD", "JSXM"):
        assert required in ids
    by_id = {layer.id: layer for layer in layers}
    # the control lines and the current land use are internal
    for internal in ("STBHHX", "YJJBNT", "CZKFBJ", "DLTB"):
        assert by_id[internal].sensitivity == "internal"
    assert by_id["GHYDYH"].versioned and not by_id["DLTB"].versioned
    for layer in layers:
        assert layer.title.zh and layer.title.en
        assert layer.schema in ("base", "plan", "impl", "supervision")


def _write(tmp_path: Path, layers: list[dict]) -> Path:
    path = tmp_path / "layers.yaml"
    path.write_text(yaml.safe_dump({"layers": layers}, allow_unicode=True), encoding="utf-8")
    return path


def _entry(**over):
    entry = {"id": "X", "title": {"zh": "甲", "en": "A"}, "description": {"zh": "甲", "en": "A"},
             "keywords": {"zh": ["甲"], "en": ["a"]}, "table": "base.x", "geometry": "Point",
             "sensitivity": "public", "style": "x", "directory": ["a", "b", "c"]}
    entry.update(over)
    return entry


def test_registry_rejects_a_bad_sensitivity(tmp_path):
    with pytest.raises(RegistryError, match="sensitivity"):
        load_layers(_write(tmp_path, [_entry(sensitivity="secret")]))


def test_registry_rejects_duplicate_ids_and_missing_fields(tmp_path):
    with pytest.raises(RegistryError, match="duplicate"):
        load_layers(_write(tmp_path, [_entry(), _entry()]))
    entry = _entry()
    del entry["title"]
    with pytest.raises(RegistryError, match="missing"):
        load_layers(_write(tmp_path, [entry]))


def test_adding_a_layer_is_a_registry_entry(tmp_path):
    layers = load_layers(_write(tmp_path, [_entry(id="NEW", table="supervision.new")]))
    assert layers[0].schema == "supervision" and layers[0].table_name == "new"


def test_a_layer_is_versioned_or_periodic_not_both(tmp_path):
    periodic = load_layers(_write(tmp_path, [_entry(versioned=False, periodic=True)]))[0]
    assert periodic.timed and not periodic.versioned
    with pytest.raises(RegistryError, match="periodic"):
        load_layers(_write(tmp_path, [_entry(versioned=True, periodic=True)]))
