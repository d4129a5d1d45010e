"""Geometry tools of the demo generator: a local planar frame, smooth noise,
seeded point sampling, Voronoi tessellation and ellipsoidal areas.

Shapes are built in a local equirectangular frame in kilometres centred on the
city (isotropic, so Voronoi cells and buffers look right) and converted to
CGCS2000 longitude/latitude only at the end; the conversion is affine, so a
tiling stays a tiling.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np
import shapely
from pyproj import Geod

LON0, LAT0 = 111.8, 28.75
KM_PER_DEG_LON = 111.320 * math.cos(math.radians(LAT0))
KM_PER_DEG_LAT = 110.852                      # meridian degree at 28.75°N on GRS80

GEOD = Geod(ellps="GRS80")                     # the CGCS2000 ellipsoid

_POLYGON = shapely.GeometryType.POLYGON

CRUMB_KM2 = 1e-6        # 1 m²: smaller bits of overlays are noise, not parcels


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent generator per purpose: the seed plus stable keys (crc32
    of names, never hash(), which is randomised per process)."""
    words = [seed] + [zlib.crc32(k.encode()) if isinstance(k, str) else k for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


def km_from_lonlat(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude → local frame (km)."""
    return (np.asarray(lon) - LON0) * KM_PER_DEG_LON, (np.asarray(lat) - LAT0) * KM_PER_DEG_LAT


def point_km(lonlat: tuple[float, float]) -> tuple[float, float]:
    """One longitude/latitude pair → local frame (km)."""
    x, y = km_from_lonlat(np.array(lonlat[0]), np.array(lonlat[1]))
    return float(x), float(y)


def to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Geometries in the local frame → CGCS2000 longitude/latitude."""
    scale = np.array([KM_PER_DEG_LON, KM_PER_DEG_LAT])
    return shapely.transform(geoms, lambda c: c / scale + np.array([LON0, LAT0]))


def ellipsoidal_area(geoms: np.ndarray) -> np.ndarray:
    """Ellipsoidal area (m², GRS80) of polygonal lon/lat geometries.

    pyproj's geodesic polygon area, called ring by ring on plain coordinate
    arrays (three times faster than Geod.geometry_area_perimeter on shapely
    objects, same result): exteriors counter-clockwise count positive, holes
    clockwise negative."""
    geoms = shapely.orient_polygons(np.asarray(geoms, dtype=object))
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    bounds = np.searchsorted(ring_of, np.arange(len(rings) + 1))
    lon, lat = np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1])
    area = GEOD.polygon_area_perimeter
    # The last point of a ring repeats the first; pyproj closes rings itself.
    signed = np.array([area(lon[a:b - 1], lat[a:b - 1])[0]
                       for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    return np.abs(np.bincount(part_of[ring_part], weights=signed, minlength=len(geoms)))


def as_multipolygons(geoms: np.ndarray, min_area: float = 0.0, repair: bool = True
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Keep the polygonal parts of each geometry larger than min_area as one
    valid MultiPolygon.

    Overlays return GeometryCollections with stray lines and points where
    shapes touch, and crumbs where edges nearly coincide; those are dropped.
    Rounding (the frame change, a thin sliver) can leave a ring crossing
    itself; such shapes are repaired with make_valid (skip the check with
    repair=False for fresh overlay output, which GEOS makes valid).  Returns
    the MultiPolygons and the mask of inputs that kept some area.
    """
    geoms = np.asarray(geoms, dtype=object)
    broken = np.zeros(len(geoms), dtype=bool)
    if repair:
        geoms = geoms.copy()
        broken = ~shapely.is_valid(geoms)
        # The linework method keeps all the area of a ring that rounding made
        # cross itself (the structure method can drop such a ring whole).
        geoms[broken] = shapely.make_valid(geoms[broken])
    parts, index = shapely.get_parts(geoms, return_index=True)
    # make_valid can nest a MultiPolygon in a GeometryCollection.
    parts, inner = shapely.get_parts(parts, return_index=True)
    index = index[inner]
    keep = (shapely.get_type_id(parts) == _POLYGON) & (shapely.area(parts) > min_area)
    out = np.full(len(geoms), None, dtype=object)
    shapely.multipolygons(parts[keep], indices=index[keep], out=out)
    # Repaired polygons can share an edge, which a MultiPolygon may not: merge.
    for i in np.flatnonzero(broken):
        if out[i] is not None and not out[i].is_valid:
            out[i] = shapely.multipolygons(shapely.get_parts(shapely.union_all(out[i])))
    mask = np.array([g is not None for g in out], dtype=bool)
    return out[mask], mask


class SmoothNoise:
    """A smooth random field: a sum of plane waves with random directions,
    wavelengths (log-uniform in the given range, km) and phases, scaled to
    unit standard deviation.  Cheap to evaluate anywhere, fully seeded."""

    def __init__(self, rng: np.random.Generator, wavelength_km: tuple[float, float],
                 waves: int = 24) -> None:
        wavelengths = np.exp(rng.uniform(*np.log(wavelength_km), waves))
        angle = rng.uniform(0.0, 2 * math.pi, waves)
        k = 2 * math.pi / wavelengths
        self._kx, self._ky = k * np.cos(angle), k * np.sin(angle)
        self._phase = rng.uniform(0.0, 2 * math.pi, waves)
        amplitude = wavelengths                  # long waves carry more energy
        self._amp = amplitude / math.sqrt(float(np.sum(amplitude**2)) / 2)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        phase = np.multiply.outer(x, self._kx) + np.multiply.outer(y, self._ky) + self._phase
        return np.sin(phase) @ self._amp


class GridField:
    """A scalar field sampled on a regular grid of the local frame and read
    back by bilinear interpolation; for fields that are costly to evaluate
    (distances to rivers and lakes) but smooth at the grid spacing."""

    def __init__(self, bounds: tuple[float, float, float, float], step_km: float,
                 values: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        x0, y0, x1, y1 = bounds
        self._x0, self._y0, self._step = x0, y0, step_km
        nx = int(math.ceil((x1 - x0) / step_km)) + 2
        ny = int(math.ceil((y1 - y0) / step_km)) + 2
        gx = x0 + step_km * np.arange(nx)
        # Band by band: a field made of local terms can skip the far ones.
        band = max(1, 20_000 // nx)
        self._grid = np.vstack([
            values(*(g.ravel() for g in np.meshgrid(gx, y0 + step_km * np.arange(r, min(r + band, ny)))))
            .reshape(-1, nx)
            for r in range(0, ny, band)])

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ny, nx = self._grid.shape
        fx = np.clip((np.asarray(x) - self._x0) / self._step, 0, nx - 1.000001)
        fy = np.clip((np.asarray(y) - self._y0) / self._step, 0, ny - 1.000001)
        ix, iy = fx.astype(int), fy.astype(int)
        tx, ty = fx - ix, fy - iy
        g = self._grid
        top = g[iy, ix] * (1 - tx) + g[iy, ix + 1] * tx
        bottom = g[iy + 1, ix] * (1 - tx) + g[iy + 1, ix + 1] * tx
        return top * (1 - ty) + bottom * ty


def distance_to(geom: shapely.Geometry, x: np.ndarray, y: np.ndarray, within: float
                ) -> np.ndarray:
    """Distance from points to a geometry (0 inside a polygon; inf beyond
    `within`), through a tree of its boundary segments: far faster than GEOS
    distance to one big shape per point."""
    lines = shapely.boundary(geom) if shapely.get_dimensions(geom) == 2 else geom
    coords, ring = shapely.get_coordinates(shapely.get_parts(lines), return_index=True)
    same = ring[1:] == ring[:-1]
    segments = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    points = shapely.points(x, y)
    (which, _), dist = shapely.STRtree(segments).query_nearest(
        points, max_distance=within, return_distance=True, all_matches=False)
    out = np.full(len(points), np.inf)
    out[which] = dist
    if shapely.get_dimensions(geom) == 2:
        out[shapely.contains_xy(geom, x, y)] = 0.0
    return out


def sample_points(piece: shapely.Geometry, n: int, rng: np.random.Generator,
                  density: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """n random points inside a polygonal piece, by rejection from its
    bounding box, thinned by an optional density in [0, 1]."""
    shapely.prepare(piece)
    x0, y0, x1, y1 = piece.bounds
    box_area = max((x1 - x0) * (y1 - y0), 1e-12)
    rate = max(piece.area / box_area, 1e-4)      # expected acceptance by the shape
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < n:
        draw = int(min(2_000_000, max(256, 1.5 * (n - have) / rate)))
        x = rng.uniform(x0, x1, draw)
        y = rng.uniform(y0, y1, draw)
        inside = shapely.contains_xy(piece, x, y)
        x, y = x[inside], y[inside]
        if density is not None:
            keep = rng.random(len(x)) < density(x, y)
            x, y = x[keep], y[keep]
        xs.append(x)
        ys.append(y)
        have += len(x)
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def tessellate(piece: shapely.Geometry, x: np.ndarray, y: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi cells of the sites (x, y) clipped to the piece: they tile it
    exactly.  Returns MultiPolygon cells in site order and the mask of sites
    whose cell kept some area."""
    return as_multipolygons(clip(voronoi_cells(x, y, piece), piece), CRUMB_KM2, repair=False)


def voronoi_cells(x: np.ndarray, y: np.ndarray, extent: shapely.Geometry) -> np.ndarray:
    """Voronoi cells of the sites, in site order, covering extent's envelope."""
    sites = shapely.multipoints(np.column_stack([x, y]))
    return shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=extent, ordered=True))


def clip(cells: np.ndarray, piece: shapely.Geometry) -> np.ndarray:
    """Cells intersected with a piece; cells well inside are kept as they
    are, as an overlay with a big piece costs far more than the test."""
    shapely.prepare(piece)
    inside = shapely.contains_properly(piece, cells)
    clipped = cells.copy()
    clipped[~inside] = shapely.intersection(cells[~inside], piece)
    return clipped


def chaikin(coords: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Chaikin corner cutting of an open polyline (keeps both ends)."""
    for _ in range(rounds):
        a, b = coords[:-1], coords[1:]
        cut = np.empty((2 * len(a), 2))
        cut[0::2] = 0.75 * a + 0.25 * b
        cut[1::2] = 0.25 * a + 0.75 * b
        coords = np.vstack([coords[:1], cut, coords[-1:]])
    return coords


def fractal_ring(coords: np.ndarray, rng: np.random.Generator, levels: int,
                 roughness: float) -> np.ndarray:
    """Midpoint displacement of a closed ring: every edge is split and its
    midpoint pushed sideways by a normal deviate times roughness × length."""
    ring = coords
    for _ in range(levels):
        a = ring
        b = np.roll(ring, -1, axis=0)
        edge = b - a
        normal = np.column_stack([-edge[:, 1], edge[:, 0]])
        mid = (a + b) / 2 + normal * (roughness * rng.standard_normal(len(a)))[:, None]
        out = np.empty((2 * len(a), 2))
        out[0::2] = a
        out[1::2] = mid
        ring = out
    return ring
