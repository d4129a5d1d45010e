"""The layout of the demo city, the same at every scale for a given seed:
outline, counties, townships, water, terrain and the zones of the three
control lines.  Everything is in the local km frame of `geometry`.

Admin units are unions of about 30,000 small Voronoi "base cells" assigned to
seeds by an additively weighted distance in a noise-warped plane, so borders
wander naturally, every unit is one connected piece, units tile their parent
exactly, and the weights are tuned until the areas match the real ones.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import shapely

from onemap.demo import geography as geo
from onemap.demo.geometry import (
    GridField,
    SmoothNoise,
    chaikin,
    fractal_ring,
    km_from_lonlat,
    point_km,
    sample_points,
    tessellate,
)

BASE_CELLS = 30_000

# Terrain zones by the elevation index e in [0, 1].
HILL_E = 0.22
MOUNTAIN_E = 0.55


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent generator per purpose: the seed plus stable keys (crc32
    of names, never hash(), which is randomised per process)."""
    words = [seed] + [zlib.crc32(k.encode()) if isinstance(k, str) else k for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass
class Township:
    """A township (乡镇街道) and what its layers are generated from."""

    index: int
    code: str
    name: str
    county: geo.County
    seat: tuple[float, float]
    geom: shapely.Geometry
    villages: np.ndarray               # (k, 2) village centres
    village_names: list[str]


@dataclass
class Centre:
    """A built-up centre: the current urban area grows around it (radius_km),
    the planned urban development boundary reaches further (plan_radius_km,
    0 when it has none)."""

    name: str
    xy: tuple[float, float]
    radius_km: float
    plan_radius_km: float
    county: geo.County


@dataclass
class Zone:
    """A dissolved control-line polygon: its name and the unit it belongs to."""

    name: str
    xzqdm: str
    geom: shapely.Geometry


@dataclass
class Layout:
    seed: int
    city: shapely.Geometry
    counties: list[tuple[geo.County, shapely.Geometry]]
    townships: list[Township]
    centres: list[Centre]
    water: dict[str, shapely.Geometry]            # DLBM 1701/1702/1703 → polygon
    dongting: shapely.Geometry                    # lakes of the Dongting system
    elevation: GridField
    wetness: GridField
    noise: dict[str, SmoothNoise] = field(default_factory=dict)
    czkfbj: list[Zone] = field(default_factory=list)
    stbhhx: list[tuple[Township, Zone]] = field(default_factory=list)

    def urban(self, x: np.ndarray, y: np.ndarray, plan: bool = False) -> np.ndarray:
        """Urban intensity in [0, 1]: 1 at a centre, fading over its radius."""
        u = np.zeros(len(x))
        wobble = 1.0 + 0.25 * self.noise["urban"](x, y)
        for c in self.centres:
            r = c.plan_radius_km if plan else c.radius_km
            if r <= 0:
                continue
            d2 = ((x - c.xy[0]) ** 2 + (y - c.xy[1]) ** 2) / (r * wobble) ** 2
            u = np.maximum(u, np.exp(-d2))
        return u


# --- outline and base cells --------------------------------------------------


def _outline(seed: int) -> shapely.Polygon:
    """The city outline: control points, rough fractal edges, scaled to the
    city's area."""
    lon, lat = np.array(geo.OUTLINE).T
    x, y = km_from_lonlat(lon, lat)
    ring = fractal_ring(np.column_stack([x, y]), rng_for(seed, "outline"), levels=6,
                        roughness=0.12)
    poly = shapely.make_valid(shapely.Polygon(ring))
    poly = max(shapely.get_parts(poly), key=lambda p: p.area) if poly.geom_type != "Polygon" else poly
    poly = shapely.Polygon(poly.exterior)
    # Scale about the centroid to the target area (the frame area is close to
    # the ellipsoidal one at this latitude; the check is on the final layer).
    k = math.sqrt(geo.CITY_AREA_KM2 / poly.area)
    c = np.array(poly.centroid.coords[0])
    return shapely.transform(poly, lambda p: (p - c) * k + c)


@dataclass
class _BaseCells:
    geoms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    area: np.ndarray
    neighbours: list[np.ndarray]


def _base_cells(outline: shapely.Polygon, seed: int) -> _BaseCells:
    rng = rng_for(seed, "base-cells")
    x, y = sample_points(outline, BASE_CELLS, rng)
    cells, keep = tessellate(outline, x, y)
    x, y = x[keep], y[keep]
    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    pairs = a != b
    a, b = a[pairs], b[pairs]
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    splits = np.searchsorted(a, np.arange(len(cells) + 1))
    neighbours = [b[splits[i]:splits[i + 1]] for i in range(len(cells))]
    return _BaseCells(cells, x, y, shapely.area(cells), neighbours)


def _warp(rng: np.random.Generator, amplitude: float, wavelength: tuple[float, float]
          ) -> tuple[SmoothNoise, SmoothNoise, float]:
    return SmoothNoise(rng, wavelength), SmoothNoise(rng, wavelength), amplitude


def _grow_regions(base: _BaseCells, members: np.ndarray, seeds: np.ndarray,
                  targets: np.ndarray, rng: np.random.Generator,
                  wavelength: tuple[float, float], amplitude: float) -> np.ndarray:
    """Split the base cells `members` among `seeds` (k, 2): nearest seed by
    warped distance minus a per-seed weight, weights tuned to the target
    areas, then every region made one connected piece.  Returns the seed
    index of each member cell."""
    wx, wy, amp = _warp(rng, amplitude, wavelength)
    cx, cy = base.x[members], base.y[members]
    px, py = cx + amp * wx(cx, cy), cy + amp * wy(cx, cy)
    sx, sy = seeds[:, 0], seeds[:, 1]
    qx, qy = sx + amp * wx(sx, sy), sy + amp * wy(sx, sy)
    dist = np.hypot(px[:, None] - qx[None, :], py[:, None] - qy[None, :])
    area = base.area[members]
    weight = np.zeros(len(seeds))
    for step in range(200):
        label = np.argmin(dist - weight, axis=1)
        got = np.bincount(label, weights=area, minlength=len(seeds))
        # Grow a region that is too small, shrink one too big; in km, as
        # the difference of the radii of equal-area discs, damped.
        weight += (0.6 * 0.99**step) * (np.sqrt(targets) - np.sqrt(got)) / math.sqrt(math.pi)
    label = np.argmin(dist - weight, axis=1)
    home = np.argmin(np.hypot(cx[:, None] - sx[None, :], cy[:, None] - sy[None, :]), axis=0)
    label[home] = np.arange(len(seeds))
    return _make_connected(base, members, label, home)


def _make_connected(base: _BaseCells, members: np.ndarray, label: np.ndarray,
                    home: np.ndarray) -> np.ndarray:
    """Give every cell cut off from its region's home cell to the neighbouring
    region it touches most, until each region is one piece."""
    local = np.full(len(base.geoms), -1)
    local[members] = np.arange(len(members))
    while True:
        reached = np.zeros(len(members), dtype=bool)
        for h in home:
            queue = deque([h])
            reached[h] = True
            while queue:
                i = queue.popleft()
                for j in local[base.neighbours[members[i]]]:
                    if j >= 0 and not reached[j] and label[j] == label[i]:
                        reached[j] = True
                        queue.append(j)
        stray = np.flatnonzero(~reached)
        if len(stray) == 0:
            return label
        for i in stray:
            near = local[base.neighbours[members[i]]]
            near = near[(near >= 0) & reached[near]]
            if len(near):
                label[i] = np.bincount(label[near]).argmax()


# --- water and terrain --------------------------------------------------------


def _river_polygon(river: geo.River, rng: np.random.Generator) -> shapely.Geometry:
    """A meandering river: the centre line smoothed and bent sideways by
    noise, buffered with a width growing downstream."""
    lon, lat = np.array(river.line).T
    line = np.column_stack(km_from_lonlat(lon, lat))
    line = chaikin(line, rounds=4)
    seg = np.diff(line, axis=0)
    along = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
    tangent = np.gradient(line, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    bend = SmoothNoise(rng, (3.0, 12.0), waves=12)
    shift = 0.6 * bend(along, np.zeros_like(along))
    shift[[0, -1]] = 0.0
    line = line + normal * shift[:, None]
    t = along / along[-1]
    w0, w1 = river.width_km
    width = w0 + (w1 - w0) * t
    # Buffer piecewise so the width can vary along the river.
    pieces = [shapely.buffer(shapely.LineString(line[i:i + 2]), width[i] / 2, quad_segs=4)
              for i in range(len(line) - 1)]
    return shapely.union_all(pieces)


def _lake_polygon(centre: tuple[float, float], radius_km: float,
                  rng: np.random.Generator) -> shapely.Polygon:
    """A lake: a disc with a noisy shore."""
    cx, cy = point_km(centre)
    angle = np.linspace(0, 2 * math.pi, 96, endpoint=False)
    harmonics = rng.standard_normal((5, 2)) * np.array([0.18, 0.12, 0.08, 0.05, 0.04])[:, None]
    r = np.ones_like(angle)
    for k, (a, b) in enumerate(harmonics, start=2):
        r += a * np.cos(k * angle) + b * np.sin(k * angle)
    r *= radius_km
    ring = np.column_stack([cx + r * np.cos(angle), cy + r * np.sin(angle)])
    return shapely.make_valid(shapely.Polygon(chaikin(np.vstack([ring, ring[:1]]), 2)))


def _water(outline: shapely.Polygon, seed: int) -> tuple[dict[str, shapely.Geometry],
                                                          shapely.Geometry]:
    """Rivers (1701), lakes (1702) and the reservoir (1703), disjoint and
    inside the city; plus the Dongting lakes as one shape."""
    rng = rng_for(seed, "water")
    rivers = shapely.union_all([_river_polygon(r, rng) for r in geo.RIVERS])
    lakes = [_lake_polygon(lk.centre, lk.radius_km, rng) for lk in geo.LAKES]
    dongting = shapely.union_all([p for p, lk in zip(lakes, geo.LAKES, strict=True)
                                  if lk.dongting])
    lakes_all = shapely.union_all(lakes)
    (ux, uy), (dx, dy) = (point_km(p) for p in geo.RESERVOIR_REACH)
    reach = shapely.LineString(chaikin(np.array([[ux, uy], [(ux + dx) / 2 + 1.5, (uy + dy) / 2],
                                                 [dx, dy]]), 3))
    reservoir = shapely.intersection(
        shapely.buffer(reach, geo.RESERVOIR_WIDTH_KM / 2, quad_segs=6),
        shapely.buffer(rivers, geo.RESERVOIR_WIDTH_KM, quad_segs=4))
    reservoir = shapely.union(reservoir, shapely.intersection(rivers, shapely.buffer(reach, 0.5)))
    water = {
        "1703": shapely.intersection(reservoir, outline),
        "1702": shapely.intersection(shapely.difference(lakes_all, reservoir), outline),
    }
    water["1701"] = shapely.intersection(
        shapely.difference(rivers, shapely.union(lakes_all, reservoir)), outline)
    return water, shapely.intersection(dongting, outline)


def _terrain(outline: shapely.Polygon, water: dict[str, shapely.Geometry],
             dongting: shapely.Geometry, seed: int) -> tuple[GridField, GridField]:
    """Elevation index e in [0, 1] (0 lake plain, 1 the 雪峰山 mountains of the
    south-west) and wetness (1 at the Dongting lakes' shores, 0 far away)."""
    rng = rng_for(seed, "terrain")
    relief = SmoothNoise(rng, (6.0, 40.0))
    lake_x, lake_y = point_km((112.45, 29.05))
    rivers = shapely.union(water["1701"], water["1703"])
    shapely.prepare(rivers)
    shapely.prepare(dongting)

    def elevation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = np.clip((np.hypot(x - lake_x, y - lake_y) - 45.0) / 105.0, 0, 1)
        base = s * s * (3 - 2 * s)
        e = base + 0.2 * relief(x, y) * np.sqrt(base + 0.02)
        valley = np.exp(-shapely.distance(rivers, shapely.points(x, y)) / 2.5)
        return np.clip(e * (1 - 0.45 * valley), 0, 1)

    def wetness(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.exp(-shapely.distance(dongting, shapely.points(x, y)) / 1.5)

    bounds = outline.bounds
    return GridField(bounds, 1.0, elevation), GridField(bounds, 0.5, wetness)
