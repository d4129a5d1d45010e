"""Chunked computation of the double evaluation: Dask tasks over 512 × 512
blocks, only those meeting the region (outside it the class rasters stay
nodata). A task opens the factor rasters once, reads each block's window of
each (rasterio), applies the model of processes.evaluation.model and sums
the block's class areas per township. The class rasters are written strip by
strip, a strip while the next computes, then converted to Cloud-Optimised
GeoTIFFs — memory is bounded by a strip of blocks, not by the raster.

The tasks run on the local threaded scheduler, or on a Dask distributed
cluster when DASK_SCHEDULER_ADDRESS is set (its workers must see the factor
rasters at the same path, e.g. on shared storage).

Areas are ellipsoidal: a cell of the Gauss-Krüger grid covers res² divided
by the projection's areal scale at the cell (pyproj), per column at the
block's middle row (the scale varies with the easting; over a block's rows
the change is below 1e-6)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from pyproj import CRS, Proj
from rasterio.features import rasterize
from rasterio.io import DatasetReader
from rasterio.windows import Window

from onemap.core.errors import invalid
from onemap.core.settings import ROOT, load_yaml
from processes.evaluation.method import Method
from processes.evaluation.model import NODATA, OUTPUTS, evaluate

STYLE_FILE = ROOT / "styles" / "evaluation.yaml"  # the class colours

GRID_CRS = CRS.from_epsg(4546)     # CGCS2000 / 3-degree Gauss-Krüger CM 111E
CHUNK = 512
GROUP = 4                          # blocks of a strip computed by one task
COG_CACHE = 64 * 2**20             # bytes of GDAL block cache while the COGs are written

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


def read_factors(sources: Mapping[str, DatasetReader], grid: Grid, rows: tuple[int, int],
                 cols: tuple[int, int]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The factors over the output cells rows × cols as float32 (a category
    code is exact in it), and where every factor has data (not nodata, not NaN).
    An output cell takes the factor cell at its top-left corner; with step > 1
    the window is read in bands of about CHUNK factor rows."""
    step, w = grid.step, grid.window
    height, width = rows[1] - rows[0], cols[1] - cols[0]
    band = max(1, CHUNK // step)
    factors, valid = {}, np.ones((height, width), bool)
    for name, src in sources.items():
        out = np.empty((height, width), np.float32)
        for r in range(0, height, band):
            n = min(band, height - r)
            window = Window(w.col_off + cols[0] * step, w.row_off + (rows[0] + r) * step,
                            (width - 1) * step + 1, (n - 1) * step + 1)
            out[r:r + n] = src.read(1, window=window)[::step, ::step]
        valid &= out != np.float32(src.nodata)
        if np.issubdtype(src.dtypes[0], np.floating):
            valid &= ~np.isnan(out)
        factors[name] = out
    return factors, valid


def _burn(zones: Zones, transform: rasterio.Affine, shape: tuple[int, int],
          resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells inside the region, and the zone codes, of one block."""
    # Only the parts of the polygons over the block: rasterio converts whole
    # geometries to GeoJSON, which for city-wide outlines costs more than the model.
    left, top = transform.c, transform.f
    bounds = (left - resolution, top - (shape[0] + 1) * resolution, left + (shape[1] + 1) * resolution,
              top + resolution)
    polygons = np.array([zones.region, *zones.townships], dtype=object)
    hit = np.flatnonzero(shapely.intersects(polygons, shapely.box(*bounds)))
    parts = shapely.clip_by_rect(polygons[hit], *bounds)
    burn = [(g, 1) for i, g in zip(hit, parts, strict=True) if i == 0 and not g.is_empty]
    inside = (rasterize(burn, out_shape=shape, transform=transform, fill=0, dtype="uint8") == 1
              if burn else np.zeros(shape, bool))
    burn = [(g, int(i)) for i, g in zip(hit, parts, strict=True) if i > 0 and not g.is_empty]
    zone = (rasterize(burn, out_shape=shape, transform=transform, fill=0, dtype="int32")
            if burn else np.zeros(shape, np.int32))
    return inside, zone


def _blocks(factor_dir: Path, method: Method, grid: Grid, zones: Zones, rows: tuple[int, int],
            blocks: Sequence[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Class codes (output, y, x) and areas (output, zone, class) of some
    blocks of a strip; the factor rasters opened once for all of them (an
    open costs as much as a block's read)."""
    with ExitStack() as stack:
        sources = {name: stack.enter_context(rasterio.open(factor_dir / f"{name}.tif")) for name in method.factors}
        return [_block(sources, method, grid, zones, rows, cols) for cols in blocks]


def _block(sources: Mapping[str, DatasetReader], method: Method, grid: Grid, zones: Zones, rows: tuple[int, int],
           cols: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    factors, valid = read_factors(sources, grid, rows, cols)
    transform = grid.transform @ rasterio.Affine.translation(cols[0], rows[0])
    inside, zone = _burn(zones, transform, valid.shape, grid.resolution)
    classes = evaluate(method, factors, valid & inside)
    block = np.stack([classes[name] for name in OUTPUTS])
    return block, _block_areas(block, zone, (*rows, *cols), grid, len(zones.townships))


def cell_area(grid: Grid, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Ellipsoidal area (m²) of the cells of columns c0..c1 at the rows' middle."""
    cols = c0 + np.arange(c1 - c0) + 0.5
    x, y = grid.transform @ (cols, np.full(cols.shape, (r0 + r1) / 2))
    proj = Proj(GRID_CRS)
    lon, lat = proj(x, y, inverse=True)
    scale = proj.get_factors(lon, lat).areal_scale
    return grid.resolution**2 / np.asarray(scale)


def _block_areas(block: np.ndarray, zone: np.ndarray, location: tuple[int, int, int, int], grid: Grid,
                 n_zones: int) -> np.ndarray:
    """Area (m²) per output, zone code and class code of one block."""
    area = np.broadcast_to(cell_area(grid, *location), zone.shape).ravel()
    zone = zone.astype(np.int64).ravel() * 256
    out = np.zeros((len(OUTPUTS), n_zones + 1, 256))
    for i in range(len(OUTPUTS)):
        out[i] = np.bincount(zone + block[i].ravel(), weights=area,
                             minlength=(n_zones + 1) * 256).reshape(n_zones + 1, 256)
    return out


def strips(grid: Grid, region: shapely.Geometry) -> list[tuple[tuple[int, int], list[tuple[int, int]]]]:
    """The blocks to compute, strip by strip: (rows, [cols, …]) of the blocks
    whose cells (with a one-cell margin) meet the region; the others stay nodata."""
    shapely.prepare(region)
    out = []
    res = grid.resolution
    for r0 in range(0, grid.height, CHUNK):
        r1 = min(r0 + CHUNK, grid.height)
        starts = np.arange(0, grid.width, CHUNK)
        ends = np.minimum(starts + CHUNK, grid.width)
        (x0, x1), (y0, y1) = grid.transform @ (np.stack([starts, ends]), np.array([[r0], [r1]]))
        boxes = shapely.box(x0 - res, y1 - res, x1 + res, y0 + res)
        hit = shapely.intersects(region, boxes)
        if hit.any():
            out.append(((r0, r1), [(int(a), int(b)) for a, b, h in zip(starts, ends, hit, strict=True) if h]))
    return out


def run_evaluation(method: Method, factor_dir: Path, zones: Zones, resolution: float | None, out_dir: Path,
                   progress: Progress, client: Any = None) -> np.ndarray:
    """Write ecology.tif, agriculture.tif, construction.tif (COG) to out_dir
    and return the areas (m²) by output, zone code and class code (nodata,
    code 0, is no class: its areas are 0)."""
    import dask

    transform, width, height = check_factors(factor_dir, method.factors)
    grid = grid_for(transform, width, height, zones.region.bounds, resolution)
    sched = client if client is not None else scheduler()
    # The work rasters: written while the next strip computes, so cheap to
    # compress (ZSTD level 1); tiles of blocks outside the region are never
    # written (sparse) and read as nodata.
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "crs": GRID_CRS,
               "transform": grid.transform, "dtype": "uint8", "nodata": NODATA, "tiled": True,
               "blockxsize": CHUNK, "blockysize": CHUNK, "compress": "zstd", "zstd_level": 1,
               "sparse_ok": True}
    work = {name: rasterio.open(out_dir / f"{name}.work.tif", "w", **profile) for name in OUTPUTS}
    areas = np.zeros((len(OUTPUTS), len(zones.townships) + 1, 256))
    todo = strips(grid, zones.region)
    shared = dask.delayed(zones)   # sent to a cluster once, not with every block
    try:
        with ThreadPoolExecutor(1) as writer:
            written = None
            for i, (rows, blocks) in enumerate(todo):
                groups = [blocks[k:k + GROUP] for k in range(0, len(blocks), GROUP)]
                results = [r for group in dask.compute(*(dask.delayed(_blocks)(factor_dir, method, grid, shared,
                                                                                rows, g) for g in groups),
                                                       scheduler=sched) for r in group]
                if written is not None:
                    written.result()
                written = writer.submit(_write_strip, work, rows, blocks, [r[0] for r in results])
                # summed block by block, in column order, as a strip of all blocks would be
                areas += np.sum([r[1] for r in results], axis=0)
                progress(10 + 70 * (i + 1) // len(todo), f"计算分块 / blocks: strip {i + 1}/{len(todo)}")
            if written is not None:
                written.result()
    finally:
        for sink in work.values():
            sink.close()
        if client is None and sched != "threads":
            sched.close()
    areas[:, :, NODATA] = 0
    # GDAL's block cache bounded: by default (5 % of the RAM) it would keep
    # most of a work raster read. (The three conversions at once measured no
    # faster on 2 cores, compression using both already, and peaked higher.)
    with rasterio.Env(GDAL_CACHEMAX=COG_CACHE):
        for name in OUTPUTS:
            with rasterio.open(out_dir / f"{name}.work.tif", "r+") as dst:
                dst.write_colormap(1, _rgb(class_colours()[name]))
            rasterio.shutil.copy(out_dir / f"{name}.work.tif", out_dir / f"{name}.tif", driver="COG",
                                 compress="DEFLATE", overview_resampling="nearest", blocksize=CHUNK,
                                 num_threads="ALL_CPUS")
            (out_dir / f"{name}.work.tif").unlink()
    return areas


def _write_strip(work: dict[str, Any], rows: tuple[int, int], blocks: Sequence[tuple[int, int]],
                 values: Sequence[np.ndarray]) -> None:
    for cols, block in zip(blocks, values, strict=True):
        window = Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])
        for k, name in enumerate(OUTPUTS):
            work[name].write(block[k], 1, window=window)


def _rgb(hexes: Sequence[str]) -> dict[int, tuple[int, int, int, int]]:
    table = {NODATA: (0, 0, 0, 0)}
    for i, h in enumerate(hexes):
        table[i + 1] = (int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16), 255)
    return table


@cache
def class_colours() -> dict[str, tuple[str, ...]]:
    """The colours of each output's classes by code, from styles/evaluation.yaml."""
    return {name: tuple(load_yaml(STYLE_FILE)["outputs"][name]) for name in OUTPUTS}
