"""Chunked computation of the double evaluation: the factor rasters read
through rasterio windows into Dask arrays (rioxarray), the model of
processes.evaluation.model applied block by block, the class rasters
written strip by strip as Cloud-Optimised GeoTIFFs, and the class areas per
township summed from the blocks — memory is bounded by a strip of blocks,
not by the raster.

The blocks run on the local threaded scheduler, or on a Dask distributed
cluster when DASK_SCHEDULER_ADDRESS is set (its workers must see the factor
rasters at the same path, e.g. on shared storage).

Areas are ellipsoidal: a cell of the Gauss-Krüger grid covers res² divided
by the projection's areal scale at the cell (pyproj), per column at the
block's middle row (the scale varies with the easting; over a block's rows
the change is below 1e-6)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from pyproj import CRS, Proj
from rasterio.features import rasterize
from rasterio.windows import Window

from onemap.core.errors import invalid
from onemap.core.settings import ROOT, load_yaml
from processes.evaluation.method import Method
from processes.evaluation.model import NODATA, OUTPUTS, evaluate

if TYPE_CHECKING:  # Dask and rioxarray are imported where rasters are computed: the
    import dask.array as da  # gateway imports this module, and they cost each worker seconds to load

STYLE_FILE = ROOT / "styles" / "evaluation.yaml"  # the class colours

GRID_CRS = CRS.from_epsg(4546)     # CGCS2000 / 3-degree Gauss-Krüger CM 111E
CHUNK = 512

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Grid:
    """The factor rasters' common grid and the window of it to evaluate."""

    transform: rasterio.Affine     # of the window, at the output resolution
    width: int
    height: int
    step: int                      # output cell = step × step factor cells
    window: Window                 # in factor cells

    @property
    def resolution(self) -> float:
        return self.transform.a


@dataclass(frozen=True)
class Zones:
    """Where to evaluate and how to sum: the region and the townships, in the
    grid's CRS; township i gets zone code i + 1 (0: no township)."""

    region: shapely.Geometry
    townships: Sequence[shapely.Geometry]


def check_factors(directory: Path, names: Sequence[str]) -> tuple[rasterio.Affine, int, int]:
    """The factor rasters exist, share one grid in GRID_CRS and declare their
    nodata; the grid's transform and size."""
    first = None
    for name in names:
        path = directory / f"{name}.tif"
        field = f"factor:{name}"
        if not path.exists():
            raise invalid(field, f"缺少评价因子栅格 {name}（{path}）", f"The factor raster {name} is missing ({path})", 500)
        with rasterio.open(path) as src:
            if src.crs is None or CRS.from_user_input(src.crs) != GRID_CRS:
                raise invalid(field, f"评价因子 {name} 的坐标系为 {src.crs}，应为 EPSG:4546（CGCS2000 3度带 111°E）",
                              f"The factor raster {name} is in {src.crs}, expected EPSG:4546 "
                              "(CGCS2000 3-degree Gauss-Krüger CM 111E)", 500)
            if src.nodata is None:
                raise invalid(field, f"评价因子 {name} 未声明无数据值（nodata）",
                              f"The factor raster {name} declares no nodata value", 500)
            grid = (src.transform, src.width, src.height)
        if first is None:
            first = grid
        elif grid != first:
            raise invalid(field, f"评价因子 {name} 的格网与 {names[0]} 不一致", f"The factor raster {name} is not on "
                          f"the grid of {names[0]}", 500)
    assert first is not None
    return first


def grid_for(transform: rasterio.Affine, width: int, height: int, bounds: tuple[float, float, float, float],
             resolution: float | None) -> Grid:
    """The window of the factor grid covering `bounds`, at `resolution` (a
    whole multiple of the factor rasters' cell size)."""
    base = transform.a
    step = 1 if resolution is None else int(round(resolution / base))
    if step < 1 or abs(step * base - (resolution or base)) > 1e-6:
        raise invalid("resolution", f"分辨率应为评价因子分辨率 {base:g} 米的整数倍",
                      f"The resolution must be a whole multiple of the factor rasters' {base:g} m", 400)
    inv = ~transform
    c0, r0 = inv @ (bounds[0], bounds[3])
    c1, r1 = inv @ (bounds[2], bounds[1])
    c0, r0 = max(int(np.floor(c0)) // step * step, 0), max(int(np.floor(r0)) // step * step, 0)
    c1, r1 = min(int(np.ceil(c1)), width), min(int(np.ceil(r1)), height)
    window = Window(c0, r0, c1 - c0, r1 - r0)
    out_w, out_h = -(-window.width // step), -(-window.height // step)
    out_transform = transform @ rasterio.Affine.translation(c0, r0) @ rasterio.Affine.scale(step)
    return Grid(out_transform, out_w, out_h, step, window)


def scheduler() -> Any:
    """A client of the cluster at DASK_SCHEDULER_ADDRESS, else the threads."""
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        from distributed import Client

        return Client(address, set_as_default=False)
    return "threads"


def factor_stack(directory: Path, names: Sequence[str], grid: Grid) -> da.Array:
    """The factors as one Dask array (factor, y, x), read lazily in chunks;
    nodata cells as NaN."""
    import dask.array as da
    import rioxarray

    arrays = []
    w = grid.window
    for name in names:
        data = rioxarray.open_rasterio(directory / f"{name}.tif", chunks={"x": CHUNK * grid.step,
                                                                           "y": CHUNK * grid.step},
                                       masked=True, lock=False)
        part = data.isel(band=0, y=slice(w.row_off, w.row_off + w.height, grid.step),
                         x=slice(w.col_off, w.col_off + w.width, grid.step))
        arrays.append(part.data.astype(np.float32))
    return da.stack(arrays).rechunk((len(names), CHUNK, CHUNK))


def _block(stack: np.ndarray, method: Method, names: Sequence[str], grid: Grid, zones: Zones,
           block_info: dict | None = None) -> np.ndarray:
    """Class codes (output, y, x) of one block, then its zone codes."""
    (_, _), (r0, r1), (c0, c1) = block_info[0]["array-location"]
    transform = grid.transform @ rasterio.Affine.translation(c0, r0)
    shape = (r1 - r0, c1 - c0)
    factors = dict(zip(names, stack, strict=True))
    # Only the parts of the polygons over the block: rasterio converts whole
    # geometries to GeoJSON, which for city-wide outlines costs more than the model.
    left, top = transform.c, transform.f
    bounds = (left - grid.resolution, top - (shape[0] + 1) * grid.resolution,
              left + (shape[1] + 1) * grid.resolution, top + grid.resolution)
    polygons = np.array([zones.region, *zones.townships], dtype=object)
    hit = np.flatnonzero(shapely.intersects(polygons, shapely.box(*bounds)))
    parts = shapely.clip_by_rect(polygons[hit], *bounds)
    burn = [(g, 1) for i, g in zip(hit, parts, strict=True) if i == 0 and not g.is_empty]
    inside = (rasterize(burn, out_shape=shape, transform=transform, fill=0, dtype="uint8") == 1
              if burn else np.zeros(shape, bool))
    valid = inside & ~np.isnan(stack).any(axis=0)
    classes = evaluate(method, {k: np.nan_to_num(v) for k, v in factors.items()}, valid)
    burn = [(g, int(i)) for i, g in zip(hit, parts, strict=True) if i > 0 and not g.is_empty]
    zone = (rasterize(burn, out_shape=shape, transform=transform, fill=0, dtype="int32")
            if burn else np.zeros(shape, np.int32))
    return np.stack([*(classes[name] for name in OUTPUTS), zone]).astype(np.uint16)


def cell_area(grid: Grid, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Ellipsoidal area (m²) of the cells of columns c0..c1 at the rows' middle."""
    cols = c0 + np.arange(c1 - c0) + 0.5
    x, y = grid.transform @ (cols, np.full(cols.shape, (r0 + r1) / 2))
    proj = Proj(GRID_CRS)
    lon, lat = proj(x, y, inverse=True)
    scale = proj.get_factors(lon, lat).areal_scale
    return grid.resolution**2 / np.asarray(scale)


def _block_areas(block: np.ndarray, location: tuple[int, int, int, int], grid: Grid, n_zones: int) -> np.ndarray:
    """Area (m²) per output, zone code and class code of one block."""
    area = np.broadcast_to(cell_area(grid, *location), block.shape[1:])
    zone = block[-1].astype(np.int64)
    out = np.zeros((len(OUTPUTS), n_zones + 1, 256))
    for i in range(len(OUTPUTS)):
        key = zone * 256 + block[i]
        out[i] = np.bincount(key.ravel(), weights=area.ravel(), minlength=(n_zones + 1) * 256).reshape(n_zones + 1,
                                                                                                       256)
    return out


def run_evaluation(method: Method, factor_dir: Path, zones: Zones, resolution: float | None, out_dir: Path,
                   progress: Progress, client: Any = None) -> np.ndarray:
    """Write ecology.tif, agriculture.tif, construction.tif (COG) to out_dir
    and return the areas (m²) by output, zone code and class code."""
    import dask
    import dask.array as da

    names = method.factors
    transform, width, height = check_factors(factor_dir, names)
    grid = grid_for(transform, width, height, zones.region.bounds, resolution)
    stack = factor_stack(factor_dir, names, grid)
    blocks = da.map_blocks(_block, stack, method=method, names=names, grid=grid, zones=zones,
                           chunks=((len(OUTPUTS) + 1,), *stack.chunks[1:]), dtype=np.uint16)
    sched = client if client is not None else scheduler()
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "crs": GRID_CRS,
               "transform": grid.transform, "dtype": "uint8", "nodata": NODATA, "tiled": True,
               "blockxsize": CHUNK, "blockysize": CHUNK, "compress": "deflate"}
    work = {name: rasterio.open(out_dir / f"{name}.work.tif", "w", **profile) for name in OUTPUTS}
    areas = np.zeros((len(OUTPUTS), len(zones.townships) + 1, 256))
    try:
        row_edges = np.cumsum((0, *blocks.chunks[1]))
        col_edges = np.cumsum((0, *blocks.chunks[2]))
        for i in range(len(blocks.chunks[1])):
            strip = blocks.blocks[:, i, :]
            stats = [dask.delayed(_block_areas)(part, (row_edges[i], row_edges[i + 1], col_edges[j], col_edges[j + 1]),
                                                grid, len(zones.townships))
                     for j, part in enumerate(strip.to_delayed().ravel())]
            values, *block_areas = dask.compute(strip, *stats, scheduler=sched)
            for k, name in enumerate(OUTPUTS):
                work[name].write(values[k].astype(np.uint8), 1,
                                 window=Window(0, int(row_edges[i]), grid.width, int(values.shape[1])))
            areas += np.sum(block_areas, axis=0)
            progress(10 + 70 * (i + 1) // len(blocks.chunks[1]), f"计算分块 / blocks: strip {i + 1}/"
                     f"{len(blocks.chunks[1])}")
    finally:
        for sink in work.values():
            sink.close()
        if client is None and sched != "threads":
            sched.close()
    for name in OUTPUTS:
        with rasterio.open(out_dir / f"{name}.work.tif", "r+") as dst:
            dst.write_colormap(1, _rgb(class_colours()[name]))
        rasterio.shutil.copy(out_dir / f"{name}.work.tif", out_dir / f"{name}.tif", driver="COG",
                             compress="DEFLATE", overview_resampling="nearest", blocksize=CHUNK)
        (out_dir / f"{name}.work.tif").unlink()
    return areas


def _rgb(hexes: Sequence[str]) -> dict[int, tuple[int, int, int, int]]:
    table = {NODATA: (0, 0, 0, 0)}
    for i, h in enumerate(hexes):
        table[i + 1] = (int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16), 255)
    return table


@cache
def class_colours() -> dict[str, tuple[str, ...]]:
    """The colours of each output's classes by code, from styles/evaluation.yaml."""
    return {name: tuple(load_yaml(STYLE_FILE)["outputs"][name]) for name in OUTPUTS}
