"""The horizontal transmission configuration: the shipped one loads; a
subordinate plan naming a layer or a field the registry does not have is
refused with the file and the plan named."""

import shutil

import pytest
import yaml

from onemap.core.settings import config_dir
from processes.supervision.catalogue import CatalogueError
from processes.supervision.horizontal import load


def test_the_shipped_configuration_checks_the_detailed_plan_against_the_master_plan():
    config = load()
    assert config.master.id == "GHYDYH"
    (plan,) = [p for p in config.plans if p.layer.id == "KZXXGH"]
    kinds = [(c.kind, c.layer.id if c.layer else c.classes.id) for c in plan.checks]
    assert ("outside", "STBHHX") in kinds and ("outside", "YJJBNT") in kinds and ("total", "construction") in kinds


@pytest.mark.parametrize(("change", "says"), [({"layer": "NOPE"}, "NOPE"), ({"field": "height"}, "height")])
def test_an_unknown_layer_or_field_is_refused(tmp_path, change, says):
    shutil.copytree(config_dir(), tmp_path / "config")
    path = tmp_path / "config" / "indicators" / "horizontal.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["plans"][0].update(change)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError, match=says):
        load(tmp_path / "config")
