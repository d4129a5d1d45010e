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
from dataclasses import dataclass, field

import numpy as np
import shapely

from onemap.demo import geography as geo
from onemap.demo.geometry import (
    GridField,
    SmoothNoise,
    as_multipolygons,
    chaikin,
    clip,
    distance_to,
    ellipsoidal_area,
    fractal_ring,
    km_from_lonlat,
    point_km,
    rng_for,
    sample_points,
    to_lonlat,
    voronoi_cells,
)
from onemap.demo.landuse import FOREST, MOUNTAIN_E, Landscape

BASE_CELLS = 30_000

# Longest edge of the shapes everything is cut from.  An edge is straight in
# lon/lat but a geodesic in PostGIS geography; where two neighbours split a
# long shared edge at different points, the sliver between them has no planar
# area but a geodesic one (about 1 m² for a 700 m edge).  Short edges keep
# such slivers under a thousandth of a square metre.
EDGE_KM = 0.05


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
    """A built-up centre.  The current urban area reaches radius_km; the
    planned urban development boundary `boundary` reaches plan_radius_km
    (no boundary of its own: plan_radius_km 0)."""

    name: str
    xy: tuple[float, float]
    radius_km: float
    plan_radius_km: float
    boundary: str
    counties: tuple[str, ...]          # where its boundary may extend


@dataclass
class Zone:
    """A control-line polygon: name, code and admin unit."""

    code: str
    name: str
    xzqdm: str
    geom: shapely.Geometry


@dataclass
class Layout:
    """Everything the layers are generated from."""

    seed: int
    city: shapely.Geometry
    counties: list[tuple[geo.County, shapely.Geometry]]
    townships: list[Township]
    centres: list[Centre]
    water: dict[str, shapely.Geometry]            # DLBM 1701/1702/1703 → polygon
    land: Landscape
    urban_noise: SmoothNoise
    czkfbj: list[Zone]
    stbhhx: list[tuple[Township, Zone]]
    all_water: shapely.Geometry = field(init=False)
    urban_zone: shapely.Geometry = field(init=False)      # all urban development boundaries
    red_zone: shapely.Geometry = field(init=False)        # the whole red line
    density: GridField = field(init=False, repr=False)
    _township_tree: shapely.STRtree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.all_water = shapely.union_all(list(self.water.values()))
        self.urban_zone = shapely.union_all([z.geom for z in self.czkfbj])
        self.red_zone = shapely.union_all([z.geom for _, z in self.stbhhx])
        self._township_tree = shapely.STRtree([t.geom for t in self.townships])

        def density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            e = self.land.elevation(x, y)
            return (0.3 + (1.0 - e) + 2.0 * self.urban(x, y)) / 3.3

        # Relative density of land-use parcels in [0, 1]: towns and plains
        # are cut finer than forests.  On a grid: it is read for every
        # candidate point of every parcel.
        self.density = GridField(self.city.bounds, 0.5, density)

    def township_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the township containing each point (-1: outside the city;
        on a shared border, either)."""
        points, found = self._township_tree.query(shapely.points(x, y), predicate="intersects")
        out = np.full(len(x), -1)
        out[points] = found
        return out

    def village(self, t: Township, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearness to the township's village centres, in [0, 1], and the
        index of the nearest village."""
        d = np.hypot(x[:, None] - t.villages[None, :, 0], y[:, None] - t.villages[None, :, 1])
        nearest = np.argmin(d, axis=1)
        return np.exp(-((d[np.arange(len(x)), nearest] / 0.38) ** 2)), nearest

    def urban(self, x: np.ndarray, y: np.ndarray, plan: bool = False) -> np.ndarray:
        """Urban intensity in [0, 1]: 1 at a centre, e⁻¹ at its radius (the
        planned radius with plan=True), with wobbly edges."""
        u = np.zeros(len(x))
        if len(x) == 0:
            return u
        wobble = 1.0 + 0.25 * self.urban_noise(x, y)
        x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
        for c in self.centres:
            r = c.plan_radius_km if plan else c.radius_km
            # A centre farther than 6 radii from all the points adds nothing.
            gap = math.hypot(max(x0 - c.xy[0], 0, c.xy[0] - x1), max(y0 - c.xy[1], 0, c.xy[1] - y1))
            if r > 0 and gap < 6 * r:
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
    # Scale about the centroid to the target ellipsoidal area.
    k = math.sqrt(geo.CITY_AREA_KM2 * 1e6 / ellipsoidal_area(to_lonlat(np.array([poly])))[0])
    c = np.array(poly.centroid.coords[0])
    return shapely.transform(poly, lambda p: (p - c) * k + c)


@dataclass
class _BaseCells:
    """Voronoi cells of the city: raw (an exact coverage, for fast dissolves)
    and clipped to the outline; centres, areas and shared edges (a, b)."""

    outline: shapely.Polygon
    raw: np.ndarray
    geoms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    area: np.ndarray
    edges: tuple[np.ndarray, np.ndarray]

    def dissolve(self, cells: np.ndarray) -> shapely.Geometry:
        """Union of some cells, clipped to the city, with short edges."""
        union = shapely.coverage_union_all(self.raw[cells])
        return shapely.segmentize(clip(np.array([union]), self.outline)[0], EDGE_KM)


def _base_cells(outline: shapely.Polygon, seed: int) -> _BaseCells:
    """About BASE_CELLS random Voronoi cells over the city."""
    rng = rng_for(seed, "base-cells")
    x, y = sample_points(outline, BASE_CELLS, rng)
    raw = voronoi_cells(x, y, outline)
    cells = clip(raw, outline)
    a, b = shapely.STRtree(cells).query(cells, predicate="intersects")
    pairs = a != b
    return _BaseCells(outline, raw, cells, x, y, shapely.area(cells), (a[pairs], b[pairs]))


def _grow_regions(base: _BaseCells, members: np.ndarray, seeds: np.ndarray,
                  region_of_seed: np.ndarray, targets: np.ndarray, rng: np.random.Generator,
                  wavelength: tuple[float, float], amplitude: float) -> np.ndarray:
    """Split the base cells `members` into regions grown from seed points
    (k, 2), region_of_seed[i] being the region of seed i (the first seed of a
    region is its home): nearest seed by warped distance minus a per-region
    weight, the weights tuned to the target areas, then every region made
    one connected piece.  Returns the region of each member cell."""
    wx, wy = SmoothNoise(rng, wavelength), SmoothNoise(rng, wavelength)
    cx, cy = base.x[members], base.y[members]
    px, py = cx + amplitude * wx(cx, cy), cy + amplitude * wy(cx, cy)
    sx, sy = seeds[:, 0], seeds[:, 1]
    qx, qy = sx + amplitude * wx(sx, sy), sy + amplitude * wy(sx, sy)
    by_seed = np.hypot(px[:, None] - qx[None, :], py[:, None] - qy[None, :])
    dist = np.full((len(members), len(targets)), np.inf)
    for i, region in enumerate(region_of_seed):
        dist[:, region] = np.minimum(dist[:, region], by_seed[:, i])
    area = base.area[members]
    weight = np.zeros(len(targets))
    for step in range(120):
        label = np.argmin(dist - weight, axis=1)
        got = np.bincount(label, weights=area, minlength=len(targets))
        # Grow a region that is too small, shrink one too big; in km, as
        # the difference of the radii of equal-area discs, damped.
        weight += (0.8 * 0.98**step) * (np.sqrt(targets) - np.sqrt(got)) / math.sqrt(math.pi)
    label = np.argmin(dist - weight, axis=1)
    first = np.unique(region_of_seed, return_index=True)[1]
    home = np.argmin(np.hypot(cx[:, None] - sx[None, first], cy[:, None] - sy[None, first]),
                     axis=0)
    label[home] = np.arange(len(targets))
    return _make_connected(base, members, label, home)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of a graph of n nodes and edges (a, b): the root
    node of each node's component.  Vectorised union-find: hook the larger
    root of every edge onto the smaller, then compress paths, until no edge
    joins two roots."""
    parent = np.arange(n)
    while True:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            return parent
        parent[np.maximum(ra, rb)[differ]] = np.minimum(ra, rb)[differ]
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def _make_connected(base: _BaseCells, members: np.ndarray, label: np.ndarray,
                    home: np.ndarray) -> np.ndarray:
    """Give every cell cut off from its region's home cell to a neighbouring
    region, until each region is one piece."""
    local = np.full(len(base.geoms), -1)
    local[members] = np.arange(len(members))
    a, b = local[base.edges[0]], local[base.edges[1]]
    inner = (a >= 0) & (b >= 0)
    a, b = a[inner], b[inner]
    while True:
        same = label[a] == label[b]
        comp = _components(len(members), a[same], b[same])
        reached = np.isin(comp, comp[home])
        if reached.all():
            return label
        # Stray cells next to a reached cell join that cell's region.
        edge = ~reached[a] & reached[b]
        label[a[edge]] = label[b[edge]]


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
    shapes = np.array([
        shapely.difference(rivers, shapely.union(lakes_all, reservoir)),
        shapely.difference(lakes_all, reservoir),
        reservoir,
        dongting,
    ], dtype=object)
    river, lake, reservoir, dongting = as_multipolygons(shapely.intersection(shapes, outline))[0]
    return {"1701": river, "1702": lake, "1703": reservoir}, dongting


def _terrain(outline: shapely.Polygon, water: dict[str, shapely.Geometry],
             dongting: shapely.Geometry, seed: int) -> tuple[GridField, GridField]:
    """Elevation index e in [0, 1] (0 lake plain, 1 the 雪峰山 mountains of the
    south-west) and wetness (1 at the Dongting lakes' shores, 0 far away)."""
    rng = rng_for(seed, "terrain")
    relief = SmoothNoise(rng, (6.0, 40.0))
    lake_x, lake_y = point_km((112.45, 29.05))
    rivers = shapely.union(water["1701"], water["1703"])

    def elevation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = np.clip((np.hypot(x - lake_x, y - lake_y) - 35.0) / 95.0, 0, 1)
        base = s * s * (3 - 2 * s)
        e = base + 0.2 * relief(x, y) * np.sqrt(base + 0.02)
        valley = np.exp(-distance_to(rivers, x, y, 15.0) / 2.5)
        return np.clip(e * (1 - 0.45 * valley), 0, 1)

    def wetness(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.exp(-distance_to(dongting, x, y, 12.0) / 1.5)

    bounds = outline.bounds
    return GridField(bounds, 1.0, elevation), GridField(bounds, 1.0, wetness)


# --- admin units ----------------------------------------------------------------


def _nearest(base: _BaseCells, members: np.ndarray, xy: tuple[float, float],
             taken: set[int]) -> int:
    """The member cell nearest to a point, skipping cells already taken."""
    d = np.hypot(base.x[members] - xy[0], base.y[members] - xy[1])
    for i in np.argsort(d, kind="stable"):
        if int(i) not in taken:
            return int(i)
    raise ValueError("no free cell")


def _township_seeds(base: _BaseCells, members: np.ndarray, county: geo.County,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seat points and target areas of a county's townships, in the order of
    county.townships: the first at the county seat, streets (街道) around it,
    towns spread over the rest."""
    names = county.townships
    street = np.array([n.endswith("街道") for n in names])
    total = float(base.area[members].sum())
    seat = point_km(county.seat)
    cell = np.full(len(names), -1)
    cell[0] = _nearest(base, members, seat, set())
    for k in np.flatnonzero(street[1:]) + 1:
        angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(2.0, 4.5)
        at = (seat[0] + dist * math.cos(angle), seat[1] + dist * math.sin(angle))
        cell[k] = _nearest(base, members, at, set(cell[cell >= 0].tolist()))
    towns = list(np.flatnonzero(cell < 0))
    spacing = 0.8 * math.sqrt(total / len(names))
    cx, cy = base.x[members], base.y[members]
    while towns:
        for i in rng.permutation(len(members)):
            placed = cell[cell >= 0]
            if np.hypot(cx[placed] - cx[i], cy[placed] - cy[i]).min() >= spacing:
                cell[towns.pop(0)] = i
                if not towns:
                    break
        spacing *= 0.85
    weight = rng.uniform(0.75, 1.25, len(names)) * np.where(
        [n.endswith("乡") for n in names], 0.8, 1.0)
    weight[0] *= 1.2
    targets = np.where(street, 32.0, 0.0)
    targets[~street] = weight[~street] / weight[~street].sum() * (total - targets.sum())
    return np.column_stack([cx[cell], cy[cell]]), targets


def _township_codes(county: geo.County) -> list[str]:
    """Nine-digit codes: streets 001…, towns 101…, townships (乡) 201…."""
    counters = {"街道": 0, "镇": 100, "乡": 200}
    codes = []
    for name in county.townships:
        kind = "街道" if name.endswith("街道") else name[-1]
        counters[kind] += 1
        codes.append(f"{county.code}{counters[kind]:03d}")
    return codes


def _villages(geom: shapely.Geometry, water: shapely.Geometry, street: bool,
              rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Village (村) or community (社区) centres, spread out, on dry land, and
    their unique names."""
    land = shapely.difference(geom, water)
    k = max(3, round(land.area / 8.6))
    x, y = sample_points(land, 12 * k, rng)
    spacing = 0.5 * math.sqrt(land.area / k)
    keep: list[int] = []
    while len(keep) < k:
        for i in range(len(x)):
            if len(keep) == k:
                break
            if not keep or np.hypot(x[keep] - x[i], y[keep] - y[i]).min() >= spacing:
                keep.append(i)
        spacing *= 0.8
    suffix = "社区" if street else "村"
    names: list[str] = []
    while len(names) < k:
        name = (geo.VILLAGE_FIRST[rng.integers(len(geo.VILLAGE_FIRST))]
                + geo.VILLAGE_SECOND[rng.integers(len(geo.VILLAGE_SECOND))] + suffix)
        if name not in names:
            names.append(name)
    return np.column_stack([x[keep], y[keep]]), names


def _admin(base: _BaseCells, water: shapely.Geometry, seed: int
           ) -> tuple[list[tuple[geo.County, shapely.Geometry]], list[Township], np.ndarray,
                      np.ndarray]:
    """Counties and townships as unions of base cells; and the county and
    the township of each base cell."""
    everything = np.arange(len(base.geoms))
    anchors = np.array([point_km(a) for c in geo.COUNTIES for a in c.anchors])
    region = np.array([k for k, c in enumerate(geo.COUNTIES) for _ in c.anchors])
    areas = np.array([c.area_km2 for c in geo.COUNTIES])
    county_of = _grow_regions(base, everything, anchors, region,
                              areas / areas.sum() * base.area.sum(),
                              rng_for(seed, "counties"), (25.0, 90.0), 5.0)
    township_of = np.empty(len(base.geoms), dtype=int)
    counties = []
    townships: list[Township] = []
    for k, county in enumerate(geo.COUNTIES):
        rng = rng_for(seed, "townships", county.code)
        members = everything[county_of == k]
        seeds, targets = _township_seeds(base, members, county, rng)
        label = _grow_regions(base, members, seeds, np.arange(len(seeds)), targets, rng,
                              (8.0, 30.0), 1.5)
        for j, (code, name) in enumerate(zip(_township_codes(county), county.townships,
                                             strict=True)):
            township_of[members[label == j]] = len(townships)
            geom = base.dissolve(members[label == j])
            villages, village_names = _villages(geom, water, name.endswith("街道"), rng)
            townships.append(Township(len(townships), code, name, county,
                                      (float(seeds[j, 0]), float(seeds[j, 1])), geom,
                                      villages, village_names))
        counties.append((county, base.dissolve(members)))
    return counties, townships, county_of, township_of


# --- centres and control-line zones ------------------------------------------------


def _centres(townships: list[Township], rng: np.random.Generator) -> list[Centre]:
    """Built-up centres: the central city, county seats, streets and towns.
    The central city, the county seats and about a third of the towns get an
    urban development boundary; streets join their seat's boundary."""
    central = "益阳市中心城区"
    core = ("430902", "430903")                 # 资阳区 and 赫山区 share the central city
    centres = [Centre(central, point_km(geo.CENTRAL_CITY), 4.0, 7.5, central, core)]
    for t in townships:
        county = t.county
        own = (county.code,)
        if county.code in core:
            seat_name, seat_counties = central, core
        else:
            seat_name, seat_counties = f"{county.name}{_seat_area(county)}", own
        if t.name == county.townships[0] and county.code not in core:
            centres.append(Centre(t.name, t.seat, 1.6, rng.uniform(2.6, 3.2), seat_name, own))
        elif t.name.endswith("街道"):
            centres.append(Centre(t.name, t.seat, 1.2, 2.0, seat_name, seat_counties))
        elif t.name.endswith("镇") and rng.random() < 0.35:
            centres.append(Centre(t.name, t.seat, 0.55, rng.uniform(1.0, 1.6),
                                  f"{county.name}{t.name}", own))
        else:
            centres.append(Centre(t.name, t.seat, 0.5 if t.name.endswith("镇") else 0.35, 0.0,
                                  "", own))
    return centres


def _seat_area(county: geo.County) -> str:
    """What the built-up area of a county seat is called."""
    if county.name.endswith("县"):
        return "县城"
    if county.name.endswith("市"):
        return "中心城区"
    return county.townships[0]


def _czkfbj(base: _BaseCells, county_of: np.ndarray, centres: list[Centre],
            water: shapely.Geometry, noise: SmoothNoise) -> list[Zone]:
    """Urban development boundaries (城镇开发边界): base cells within the
    planned radius of a centre and in its county, dissolved per boundary and
    county, less water."""
    planned = [c for c in centres if c.plan_radius_km > 0]
    wobble = 1.0 + 0.25 * noise(base.x, base.y)
    cell_county = np.array([c.code for c in geo.COUNTIES])[county_of]
    reach = np.column_stack([
        np.where(np.isin(cell_county, c.counties),
                 np.hypot(base.x - c.xy[0], base.y - c.xy[1]) / (c.plan_radius_km * wobble),
                 np.inf)
        for c in planned])
    owner = np.argmin(reach, axis=1)
    inside = reach[np.arange(len(owner)), owner] < 1.0
    zones = []
    for name in sorted({c.boundary for c in planned}):
        mine = inside & np.isin(owner, [i for i, c in enumerate(planned) if c.boundary == name])
        pieces = []
        for county in geo.COUNTIES:
            cells = mine & (cell_county == county.code)
            if cells.any():
                parts = _parts(shapely.difference(base.dissolve(cells), water), 0.05)
                if parts:
                    pieces.append((county, shapely.union_all(parts)))
        for county, geom in pieces:
            label = name if len(pieces) == 1 else f"{name}（{county.name}片区）"
            zones.append(Zone("", f"{label}城镇开发边界", county.code, geom))
    zones.sort(key=lambda z: (z.xzqdm, z.name))
    counter: dict[str, int] = {}
    for z in zones:
        counter[z.xzqdm] = counter.get(z.xzqdm, 0) + 1
        z.code = f"{z.xzqdm}CZ{counter[z.xzqdm]:02d}"
    return zones


def _parts(geom: shapely.Geometry, min_km2: float) -> list[shapely.Polygon]:
    """The polygons of a geometry at least min_km2 in area, largest first;
    smaller crumbs left by overlays are dropped."""
    parts = [p for p in shapely.get_parts(geom)
             if p.geom_type == "Polygon" and p.area >= min_km2]
    return sorted(parts, key=lambda p: -p.area)


def _stbhhx(base: _BaseCells, township_of: np.ndarray, land: Landscape,
            townships: list[Township], water: dict[str, shapely.Geometry],
            dongting: shapely.Geometry, urban: shapely.Geometry, rng: np.random.Generator
            ) -> list[tuple[Township, Zone]]:
    """Ecological protection red line (生态保护红线): forest of the mountains,
    the Dongting lakes and their wetlands, the reservoir; outside the urban
    development boundaries; one feature per township and connected part."""
    e = land.elevation(base.x, base.y)
    forest = land.groups(base.x, base.y, None, 0.0) == FOREST
    patchy = SmoothNoise(rng, (2.0, 10.0))(base.x, base.y) > 0.15
    chosen = (e > MOUNTAIN_E) & forest & patchy | (land.wetness(base.x, base.y) > 0.4)
    lakes = shapely.union(dongting, water["1703"])
    out = []
    for t in townships:
        cells = chosen & (township_of == t.index)
        red = shapely.intersection(lakes, t.geom)
        if cells.any():
            red = shapely.union(base.dissolve(cells), red)
        red = shapely.difference(red, urban)
        for k, part in enumerate(_parts(red, 0.3), start=1):
            kind = ("洞庭湖湿地生物多样性维护" if shapely.intersects(part, dongting)
                    else "雪峰山水源涵养" if t.county.code == "430923" else "水土保持")
            out.append((t, Zone(f"{t.code}HX{k:02d}",
                                f"{t.county.name}{t.name}{kind}生态保护红线{k}号片区", t.code,
                                part)))
    return out


def build_layout(seed: int) -> Layout:
    """The layout of the demo city for a seed."""
    outline = _outline(seed)
    base = _base_cells(outline, seed)
    water, dongting = _water(outline, seed)
    elevation, wetness = _terrain(outline, water, dongting, seed)
    land = Landscape(seed, elevation, wetness)
    # Short edges from here on (see EDGE_KM); the terrain only needed the shapes.
    water = dict(zip(water, shapely.segmentize(list(water.values()), EDGE_KM), strict=True))
    dongting = shapely.segmentize(dongting, EDGE_KM)
    all_water = shapely.union_all(list(water.values()))
    counties, townships, county_of, township_of = _admin(base, all_water, seed)
    rng = rng_for(seed, "zones")
    centres = _centres(townships, rng)
    urban_noise = SmoothNoise(rng, (2.0, 8.0))
    czkfbj = _czkfbj(base, county_of, centres, all_water, urban_noise)
    urban = shapely.union_all([z.geom for z in czkfbj])
    stbhhx = _stbhhx(base, township_of, land, townships, water, dongting, urban, rng)
    return Layout(seed, shapely.segmentize(outline, EDGE_KM), counties, townships, centres, water,
                  land, urban_noise, czkfbj, stbhhx)
