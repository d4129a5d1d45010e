"""Factor rasters are checked before a run: the expected CRS (EPSG:4546),
a declared nodata value, one grid; a fault names the raster, bilingually.
And the chunked run on small rasters of several chunks gives what the
numpy model gives on the whole arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from onemap.core.errors import OneMapError
from processes.evaluation.compute import CHUNK, Zones, check_factors, run_evaluation
from processes.evaluation.method import find_method
from processes.evaluation.model import evaluate

ORIGIN = (500_000.0, 3_200_000.0)
RES = 100.0


def write(path: Path, values: np.ndarray, crs: str = "EPSG:4546", nodata: float | None = -9999.0) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                       dtype="float32", crs=crs, transform=from_origin(*ORIGIN, RES, RES), nodata=nodata) as dst:
        dst.write(values.astype(np.float32), 1)


def factor_set(directory: Path, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    values = {"elevation": rng.uniform(20, 1500, shape), "slope": rng.uniform(0, 40, shape),
              "rainfall": rng.uniform(100, 1900, shape), "soil_texture": rng.integers(1, 4, shape),
              "ecological_source": rng.integers(0, 2, shape), "hazard_density": rng.uniform(0, 0.4, shape),
              "distance_town": rng.uniform(0, 30_000, shape)}
    values["slope"][5, 7] = -9999.0    # one nodata cell
    for name, v in values.items():
        write(directory / f"{name}.tif", v)
    return values


def test_a_factor_in_another_crs_is_refused_by_name(tmp_path):
    method = find_method(None)
    factor_set(tmp_path, (8, 8))
    write(tmp_path / "rainfall.tif", np.ones((8, 8)), crs="EPSG:4490")
    with pytest.raises(OneMapError) as caught:
        check_factors(tmp_path, method.factors)
    problem = caught.value.problem
    assert "rainfall" in problem.zh and "EPSG:4546" in problem.zh and "rainfall" in problem.en


def test_a_factor_without_nodata_is_refused_by_name(tmp_path):
    method = find_method(None)
    factor_set(tmp_path, (8, 8))
    write(tmp_path / "slope.tif", np.ones((8, 8)), nodata=None)
    with pytest.raises(OneMapError) as caught:
        check_factors(tmp_path, method.factors)
    assert "slope" in caught.value.problem.zh and "nodata" in caught.value.problem.en


@pytest.mark.parametrize(("name", "bad"), [("rainfall", {"crs": "EPSG:4490"}), ("slope", {"nodata": None})])
def test_a_run_on_a_bad_factor_is_refused_before_it_writes_anything(tmp_path, name, bad):
    factors = tmp_path / "factors"
    factors.mkdir()
    factor_set(factors, (8, 8))
    write(factors / f"{name}.tif", np.ones((8, 8)), **bad)
    out = tmp_path / "out"
    out.mkdir()
    region = shapely.box(ORIGIN[0], ORIGIN[1] - 800, ORIGIN[0] + 800, ORIGIN[1])
    with pytest.raises(OneMapError) as caught:
        run_evaluation(find_method(None), factors, Zones(region, [region]), None, out, lambda *_: None)
    problem = caught.value.problem
    assert problem.field == f"factor:{name}" and name in problem.zh and name in problem.en
    assert not list(out.iterdir())


def test_chunked_run_equals_the_model_on_whole_arrays(tmp_path):
    shape = (CHUNK + 37, CHUNK + 90)          # 2 × 2 chunks, ragged
    values = factor_set(tmp_path, shape)
    method = find_method(None)
    x0, y0 = ORIGIN
    region = shapely.box(x0, y0 - shape[0] * RES, x0 + shape[1] * RES, y0)
    left = shapely.box(x0, y0 - shape[0] * RES, x0 + 300 * RES, y0)
    out = tmp_path / "out"
    out.mkdir()
    areas = run_evaluation(method, tmp_path, Zones(region, [left, region.difference(left)]), None, out,
                           lambda *_: None)
    valid = values["slope"] != -9999.0
    expected = evaluate(method, {k: v.astype(np.float32) for k, v in values.items()}, valid)
    for name, classes in expected.items():
        with rasterio.open(out / f"{name}.tif") as src:
            np.testing.assert_array_equal(src.read(1), classes)
    # every valid cell counted once, in one of the two zones; ~1e4 m² each (the areal scale near 1)
    counted = areas[0, 1:, 1:].sum()
    assert counted == pytest.approx(valid.sum() * RES * RES, rel=2e-3)
    assert areas[0, 0].sum() == 0
