"""The evaluation results as services, without a stack: the served rasters
are replaced whole; before the first run the coverage answers a bilingual
404 (the collection list keeps working); the map classes carry the colours of
the class rasters; a kept class becomes dissolved polygons across strips."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
import yaml
from pygeoapi.provider.base import ProviderItemNotFoundError
from pyproj import Transformer
from rasterio.transform import from_origin

from onemap.core.settings import Settings
from processes.evaluation import polygons
from processes.evaluation.compute import class_colours
from processes.evaluation.layers import (
    LatestCoverageProvider,
    latest_dir,
    latest_path,
    load_result_layers,
    mapfile_text,
    publish_latest,
    state_file,
)
from processes.evaluation.model import OUTPUTS


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env({"ONEMAP_VAR": str(tmp_path / "var")})


def write_run(directory, value):
    directory.mkdir(parents=True)
    for output in OUTPUTS:
        with rasterio.open(directory / f"{output}.tif", "w", driver="GTiff", width=4, height=4, count=1,
                           dtype="uint8", crs="EPSG:4546", transform=from_origin(500000, 3100000, 30, 30),
                           nodata=0) as dst:
            dst.write(np.full((1, 4, 4), value, np.uint8))


def provider(path):
    return LatestCoverageProvider({"type": "coverage", "name": "x", "data": str(path),
                                   "format": {"name": "GTiff", "mimetype": "image/tiff"}})


def test_a_run_replaces_the_served_rasters_whole(settings, tmp_path):
    for run, value in (("run-a", 1), ("run-b", 3)):
        write_run(tmp_path / run, value)
        publish_latest(settings, tmp_path / run)
        for output in OUTPUTS:
            with rasterio.open(latest_path(settings, output)) as src:
                assert (src.read(1) == value).all()
        assert state_file(settings).read_text(encoding="utf-8") == run
    assert not [p for p in latest_dir(settings).iterdir() if p.name.endswith(".partial")]


def test_before_the_first_run_the_coverage_is_a_bilingual_404(settings):
    empty = provider(latest_path(settings, "construction"))
    assert empty.get_fields() and empty._coverage_properties["width"] == 0  # the collection is still described
    with pytest.raises(ProviderItemNotFoundError) as raised:
        empty.query(format_="GTiff")
    assert raised.value.http_status_code == 404
    assert "尚无评价结果" in raised.value.message and "No evaluation result yet" in raised.value.message


def test_after_a_run_the_provider_serves_the_raster(settings, tmp_path):
    write_run(tmp_path / "run", 2)
    publish_latest(settings, tmp_path / "run")
    served = provider(latest_path(settings, "agriculture"))
    assert served._coverage_properties["width"] == 4
    assert served.query(format_="GTiff") == latest_path(settings, "agriculture").read_bytes()


def test_each_class_is_drawn_in_the_colour_of_the_class_rasters(settings):
    text = mapfile_text(settings, [110, 27, 113, 30])
    for layer in load_result_layers():
        colours = class_colours()[layer.output]
        assert [c.color for c in layer.classes] == list(colours[:len(layer.classes)])
        for cls in layer.classes:
            assert f"EXPRESSION ([pixel] = {cls.code})\n      STYLE COLOR {' '.join(map(str, cls.rgb))} END" in text
        assert f'DATA "{latest_path(settings, layer.output)}"' in text


def test_a_kept_class_becomes_one_polygon_a_connected_part_across_strips(tmp_path, monkeypatch):
    """An L of five cells of class 3 cut by a strip edge and a lone cell:
    two polygons of 5 and 1 cells (the strips' pieces dissolved)."""
    codes = np.array([[3, 3, 1, 1],
                      [3, 1, 1, 1],
                      [3, 1, 1, 3],
                      [3, 0, 2, 2]], np.uint8)
    path = tmp_path / "construction.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8", crs="EPSG:4546",
                       transform=from_origin(500000, 3100000, 30, 30), nodata=0) as dst:
        dst.write(codes[None])
    monkeypatch.setattr(polygons, "STRIP_ROWS", 2)
    found = polygons.class_polygons(path, 3)
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4546", always_xy=True)
    areas = sorted(shapely.transform(g, lambda c: np.column_stack(to_gk.transform(c[:, 0], c[:, 1]))).area
                   for g in found)
    assert areas == pytest.approx([900.0, 5 * 900.0], rel=1e-6)
    assert not polygons.class_polygons(path, 4)


@pytest.mark.parametrize(("polygons", "words"), [({"layer": "CZJSBSYQ", "class": "很差"}, "polygons.class 很差"),
                                                 ({"layer": "NOPE", "class": "不适宜"}, "polygons.layer NOPE")])
def test_a_kept_class_must_be_of_the_scale_and_its_layer_registered(tmp_path, polygons, words):
    entry = {"id": "X", "output": "construction", "title": {"zh": "甲", "en": "x"},
             "description": {"zh": "甲", "en": "x"}, "keywords": {"zh": [], "en": []}, "directory": [],
             "polygons": polygons}
    (tmp_path / "layers.yaml").write_text(yaml.safe_dump({"kind": "layers", "layers": [entry]}, allow_unicode=True),
                                          encoding="utf-8")
    with pytest.raises(ValueError, match=words):
        load_result_layers(tmp_path)
