"""评价因子 The factor rasters of the demo city, for the evaluation models:
Cloud-Optimised GeoTIFFs in CGCS2000 / 3-degree Gauss-Krüger CM 111E
(EPSG:4546, metres), deterministic from the seed and consistent with the
demo geography (the Dongting lake lowland in the north, the 雪峰山 hills in
the south-west) and the loaded data (current land use, hazard points).

Written band by band, so memory is bounded by a band, not the raster; the
distance and density fields are computed on a coarse grid (COARSE_M) and
read back bilinearly, as grading thresholds are kilometres. Outside the city
every factor is nodata.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import rasterio
import rasterio.shutil
import shapely
from psycopg import sql
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.transform import from_origin
from rasterio.windows import Window
from scipy import ndimage

from onemap.core.landuse import landuse_code_sql
from onemap.demo.geometry import km_from_lonlat, rng_for, to_lonlat
from onemap.demo.layout import Layout, build_layout

CRS = "EPSG:4546"
RESOLUTION_M = {"small": 100.0, "city": 30.0}
COARSE_M = 250.0
BAND_ROWS = 512
NODATA = {"float32": -9999.0, "uint8": 255, "uint16": 0}
# name -> data type; the names are those config/evaluation methods read
FACTORS = {"elevation": "float32", "slope": "float32", "rainfall": "float32", "soil_texture": "uint8",
           "soil_organic": "float32", "landcover": "uint16", "ecological_source": "uint8",
           "hazard_density": "float32", "distance_road": "float32", "distance_town": "float32"}
# planning land-use codes (first digits) of ecological sources, roads and towns;
# the land cover is DLTB's survey code mapped through the crosswalk
SOURCES = ("03", "05", "17")
ROADS = ("0601", "1202", "1207")
TOWNS = ("0701", "0702", "08", "09", "10")

Say = Callable[[str], None]


def write_factors(database_url: str, directory: Path, seed: int = 1, resolution_m: float = 100.0,
                  say: Say | None = None) -> dict[str, Path]:
    """Write every factor raster to `directory` (replaced as a whole: a
    failed run leaves the previous rasters)."""
    say = say or (lambda _m: None)
    layout = build_layout(seed)
    to_gk = Transformer.from_crs("EPSG:4490", CRS, always_xy=True)
    city = shapely.transform(to_lonlat(np.array([layout.city]))[0], lambda c: np.column_stack(to_gk.transform(*c.T)))
    x0, y0, x1, y1 = city.bounds
    x0, y1 = np.floor(x0 / COARSE_M) * COARSE_M, np.ceil(y1 / COARSE_M) * COARSE_M
    width, height = int(np.ceil((x1 - x0) / resolution_m)), int(np.ceil((y1 - y0) / resolution_m))
    transform = from_origin(x0, y1, resolution_m, resolution_m)
    landuse = _landuse(database_url, to_gk)
    coarse = _coarse_fields(database_url, layout, landuse, to_gk, (x0, y1), width * resolution_m,
                            height * resolution_m)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "crs": CRS,
               "transform": transform, "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate"}
    sinks = {name: rasterio.open(tmp / f"{name}.work.tif", "w", dtype=kind, nodata=NODATA[kind], **profile)
             for name, kind in FACTORS.items()}
    terrain = _Terrain(seed)
    try:
        for top in range(0, height, BAND_ROWS):
            rows = min(BAND_ROWS, height - top)
            say(f"评价因子 / factor rasters: {100 * top // height}%")
            band = _band(terrain, city, landuse, coarse, transform, top, rows, width, resolution_m)
            for name, values in band.items():
                sinks[name].write(values.astype(FACTORS[name]), 1, window=Window(0, top, width, rows))
    finally:
        for sink in sinks.values():
            sink.close()
    for name in FACTORS:
        rasterio.shutil.copy(tmp / f"{name}.work.tif", tmp / f"{name}.tif", driver="COG", compress="DEFLATE",
                             overview_resampling="nearest", blocksize=512)
        (tmp / f"{name}.work.tif").unlink()
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
    say(f"评价因子 / factor rasters: {width} × {height} cells at {resolution_m:g} m, {CRS}")
    return {name: directory / f"{name}.tif" for name in FACTORS}


class _Waves:
    """A smooth random field, a sum of plane waves in the raster's frame (km),
    evaluated on a grid as a product of per-row and per-column terms:
    sin(kx·x + ky·y + φ) = sin(kx·x)·cos(ky·y + φ) + cos(kx·x)·sin(ky·y + φ)."""

    def __init__(self, rng: np.random.Generator, wavelength_km: tuple[float, float], waves: int) -> None:
        wavelengths = np.exp(rng.uniform(*np.log(wavelength_km), waves))
        angle = rng.uniform(0.0, 2 * np.pi, waves)
        k = 2 * np.pi / wavelengths
        self.kx, self.ky = k * np.cos(angle), k * np.sin(angle)
        self.phase = rng.uniform(0.0, 2 * np.pi, waves)
        self.amp = wavelengths / np.sqrt(np.sum(wavelengths**2) / 2)

    def grid(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        ax, ay = np.outer(x_km, self.kx), np.outer(y_km, self.ky) + self.phase
        return (np.cos(ay) * self.amp) @ np.sin(ax).T + (np.sin(ay) * self.amp) @ np.cos(ax).T


class _Terrain:
    """Elevation (m) from the layout's elevation index e (read from the coarse
    grid), with hill relief that grows with e (slopes above 25° in the
    mountains, a flat lake plain); rainfall and soils from e and wetness."""

    def __init__(self, seed: int) -> None:
        self.relief = _Waves(rng_for(seed, "factors", "relief"), (0.6, 3.0), 12)
        self.soil = _Waves(rng_for(seed, "factors", "soil"), (3.0, 12.0), 8)

    def fields(self, e: np.ndarray, wet: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> dict[str, np.ndarray]:
        relief = self.relief.grid(gx / 1000, gy / 1000)
        soil = self.soil.grid(gx / 1000, gy / 1000)
        elevation = 28.0 + 1000.0 * e + 220.0 * e**1.5 * relief
        texture = np.where(e > 0.55, 3, np.where((wet > 0.3) | (soil > 1.0), 2, 1))
        return {"elevation": np.maximum(elevation, 20.0), "rainfall": 1280.0 + 520.0 * e + 60.0 * soil,
                "soil_texture": texture, "soil_organic": 14.0 + 18.0 * e + 3.0 * soil}


def _sample(grid: np.ndarray, transform: rasterio.Affine, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """A coarse-grid field, bilinear at the cell centres gx × gy."""
    fy = (transform.f - gy - COARSE_M / 2) / COARSE_M
    fx = (gx - transform.c - COARSE_M / 2) / COARSE_M
    cy, cx = np.meshgrid(fy, fx, indexing="ij")
    return ndimage.map_coordinates(grid, [cy, cx], order=1, mode="nearest")


def _band(terrain: _Terrain, city: shapely.Geometry, landuse: tuple[np.ndarray, list[int]],
          coarse: dict[str, np.ndarray], transform: rasterio.Affine, top: int, rows: int, width: int,
          res: float) -> dict[str, np.ndarray]:
    """Every factor for rows top..top+rows; one row more each side for the slope."""
    first, last = max(top - 1, 0), top + rows + 1
    gx = transform.c + (np.arange(width) + 0.5) * res
    gy = transform.f - (np.arange(first, last) + 0.5) * res
    out = terrain.fields(_sample(coarse["e"], transform, gx, gy), _sample(coarse["wet"], transform, gx, gy), gx, gy)
    dz_dy, dz_dx = np.gradient(out["elevation"], res)
    out["slope"] = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    keep = slice(top - first, top - first + rows)
    out = {k: v[keep] for k, v in out.items()}
    band_transform = transform @ rasterio.Affine.translation(0, top)
    shapes, codes = landuse
    box = shapely.box(gx[0] - res, gy[keep][-1] - res, gx[-1] + res, gy[keep][0] + res)
    hits = np.flatnonzero(shapely.intersects(shapes, box)) if len(shapes) else []
    cover = rasterize(((shapes[i], codes[i]) for i in hits), out_shape=(rows, width), transform=band_transform,
                      fill=0, dtype="uint16") if len(hits) else np.zeros((rows, width), np.uint16)
    out["landcover"] = cover
    out["ecological_source"] = np.isin(cover // 100, [int(p) for p in SOURCES]) * 1
    for name in ("hazard_density", "distance_road", "distance_town"):
        out[name] = _sample(coarse[name], transform, gx, gy[keep])
    inside = rasterize([(city, 1)], out_shape=(rows, width), transform=band_transform, fill=0, dtype="uint8") == 1
    return {name: np.where(inside, out[name], NODATA[kind]) for name, kind in FACTORS.items()}


def _landuse(database_url: str, to_gk: Transformer) -> tuple[np.ndarray, list[int]]:
    """Current land use (DLTB) in the raster CRS, with its planning class as
    an integer of four digits (a level-1 class padded: 14 -> 1400)."""
    code = landuse_code_sql(sql.Identifier("dlbm"))
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(sql.SQL("SELECT rpad({}, 4, '0'), ST_AsBinary(geom) FROM base.dltb").format(code)).fetchall()
    if not rows:
        return np.array([], dtype=object), []
    geoms = shapely.from_wkb([r[1] for r in rows])
    geoms = shapely.transform(geoms, lambda c: np.column_stack(to_gk.transform(*c.T)))
    return geoms, [int(r[0]) for r in rows]


def _coarse_fields(database_url: str, layout: Layout, landuse: tuple[np.ndarray, list[int]], to_gk: Transformer,
                   origin: tuple[float, float], width_m: float, height_m: float) -> dict[str, np.ndarray]:
    """On the coarse grid: the layout's elevation index and wetness, the
    distances to roads and towns (m), the density of geological hazard
    points (per km² within 2 km)."""
    shape = (int(np.ceil(height_m / COARSE_M)), int(np.ceil(width_m / COARSE_M)))
    transform = from_origin(origin[0], origin[1], COARSE_M, COARSE_M)
    gx, gy = np.meshgrid(origin[0] + (np.arange(shape[1]) + 0.5) * COARSE_M,
                         origin[1] - (np.arange(shape[0]) + 0.5) * COARSE_M)
    lon, lat = to_gk.transform(gx.ravel(), gy.ravel(), direction="INVERSE")
    x, y = km_from_lonlat(lon, lat)
    out = {"e": layout.land.elevation(x, y).reshape(shape), "wet": layout.land.wetness(x, y).reshape(shape)}
    shapes, codes = landuse
    for name, prefixes in (("distance_road", ROADS), ("distance_town", TOWNS)):
        chosen = [(g, 1) for g, c in zip(shapes, codes, strict=True) if f"{c:04d}".startswith(prefixes)]
        mask = rasterize(chosen, out_shape=shape, transform=transform, fill=0, all_touched=True,
                         dtype="uint8") if chosen else np.zeros(shape, np.uint8)
        out[name] = (ndimage.distance_transform_edt(mask == 0) * COARSE_M if mask.any()
                     else np.full(shape, 1e6)).astype(np.float32)
    with psycopg.connect(database_url) as conn:
        points = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM base.dzzhd").fetchall()
    counts = np.zeros(shape, np.float32)
    if points:
        px, py = to_gk.transform(*np.array(points, dtype=float).T)
        col = ((px - origin[0]) // COARSE_M).astype(int)
        row = ((origin[1] - py) // COARSE_M).astype(int)
        ok = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
        np.add.at(counts, (row[ok], col[ok]), 1.0)
    radius = int(round(2000 / COARSE_M))
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disc = (np.hypot(yy, xx) <= radius).astype(np.float32)
    area_km2 = disc.sum() * (COARSE_M / 1000) ** 2
    out["hazard_density"] = ndimage.convolve(counts, disc, mode="constant") / area_km2
    return out
