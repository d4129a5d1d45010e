"""Deterministic demo city generator: a Yiyang-like (益阳) city in CGCS2000
longitude/latitude (EPSG:4490), from a seed, at a scale.

`generate_city` builds the layout (outline, admin units, water, terrain, the
control-line zones; the same at every scale) and the small layers at once.
The two big layers, current land use (DLTB) and planned land use (GHYDYH, with
the permanent basic farmland YJJBNT cut from its cells), are generated township
by township on demand, so a million polygons never sit in memory together.

Layers agree with each other by construction: townships tile counties, which
tile the city; DLTB and GHYDYH each tile every township; the urban development
boundary, the red line and the basic farmland are unions of whole GHYDYH cells
and never overlap; GHYDYH under basic farmland is cropland (01xx).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely

from onemap.core.landuse import names_zh, survey_code_of, survey_names_zh
from onemap.demo import geography as geo
from onemap.demo.geometry import (
    CRUMB_KM2,
    KM_PER_DEG_LAT,
    KM_PER_DEG_LON,
    as_multipolygons,
    ellipsoidal_area,
    point_km,
    rng_for,
    sample_points,
    tessellate,
    to_lonlat,
)
from onemap.demo.landuse import (
    CROP,
    HILL_E,
    current_codes,
    planned_codes,
    red_line_codes,
    zone_codes,
)
from onemap.demo.layout import Layout, Township, build_layout


@dataclass(frozen=True)
class Scale:
    """How much of everything: polygon counts of the big layers, and points
    and projects."""

    dltb: int
    ghydyh: int
    hazards: int
    projects: int


SCALES: dict[str, Scale] = {
    "small": Scale(dltb=20_000, ghydyh=10_000, hazards=300, projects=200),
    "city": Scale(dltb=1_000_000, ghydyh=500_000, hazards=1_500, projects=2_000),
}

PLAN_VERSION = "2021-2035-v1"
PLAN_TITLE = "益阳市国土空间总体规划（2021—2035年）"
PLAN_VALID_FROM = dt.datetime(2023, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))

WATER_CELL_FACTOR = 3.0          # water parcels are this many times larger than land ones

_PLAN = ("plan_version", "valid_from", "valid_to")

# The columns the generator fills, per table, in order (onemap/core/schema.sql).
COLUMNS: dict[str, tuple[str, ...]] = {
    "base.xzq": ("id", "xzqdm", "xzqmc", "xzqjb", "sjxzqdm", "mj", "geom"),
    "base.dltb": ("id", "bsm", "tbbh", "dlbm", "dlmc", "tbmj", "zldwdm", "geom"),
    "base.dzzhd": ("id", "zhdbh", "zhdmc", "zhlx", "xqdj", "xzqdm", "geom"),
    "plan.plan_version": ("plan_version", "title", "valid_from", "valid_to"),
    "plan.ghydyh": ("id", "bsm", "ydyhdm", "ydyhmc", "xzqdm", "mj", *_PLAN, "geom"),
    "plan.stbhhx": ("id", "hxbh", "hxmc", "xzqdm", "mj", *_PLAN, "geom"),
    "plan.yjjbnt": ("id", "bhtbbh", "dlbm", "xzqdm", "mj", *_PLAN, "geom"),
    "plan.czkfbj": ("id", "bjbh", "bjmc", "xzqdm", "mj", *_PLAN, "geom"),
    "plan.lswhbhx": ("id", "bhxbh", "bhxmc", "bhlx", "xzqdm", "mj", *_PLAN, "geom"),
    "impl.jsxm": ("id", "xmbh", "xmmc", "xmlx", "ydyhdm", "jsdw", "pzrq", "xzqdm", "mj", "geom"),
}


@dataclass(frozen=True)
class Table:
    """Rows of one database table, column by column, in the table's column
    order.  `geom` holds shapely geometries in EPSG:4490 lon/lat."""

    name: str                                  # "schema.table"
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def rows(self) -> Iterator[dict[str, object]]:
        """The rows as dicts."""
        names = list(self.columns)
        for values in zip(*self.columns.values(), strict=True):
            yield dict(zip(names, values, strict=True))


def _table(name: str, **columns: object) -> Table:
    if tuple(columns) != COLUMNS[name]:
        raise ValueError(f"{name}: columns {tuple(columns)} are not {COLUMNS[name]}")
    return Table(name, {k: v if isinstance(v, np.ndarray) else np.asarray(v, dtype=object)
                        for k, v in columns.items()})


@dataclass(frozen=True)
class DemoCity:
    """The demo city: small layers as tables, big layers as per-township
    batches (`dltb()`, `ghydyh()`), generated again on every iteration."""

    scale: str
    seed: int
    xzq: Table
    plan_version: Table
    czkfbj: Table
    stbhhx: Table
    lswhbhx: Table
    dzzhd: Table
    jsxm: Table
    layout: Layout = field(repr=False)

    def small_tables(self) -> list[Table]:
        """The small layers, plan_version first (the plan layers refer to it)."""
        return [self.plan_version, self.xzq, self.czkfbj, self.stbhhx, self.lswhbhx,
                self.dzzhd, self.jsxm]

    def dltb(self) -> Iterator[Table]:
        """Current land use (base.dltb), one table per township, ids 1…n."""
        next_id = 1
        lay = self.layout
        target = SCALES[self.scale].dltb
        water_cells = lay.all_water.area / (WATER_CELL_FACTOR * lay.city.area / target)
        land_cells = self._shares() * (target - water_cells)
        for t in lay.townships:
            batch = _dltb_batch(self, t, round(land_cells[t.index]), next_id)
            next_id += len(batch)
            yield batch

    def ghydyh(self) -> Iterator[tuple[Table, Table]]:
        """Planned land use (plan.ghydyh) and permanent basic farmland
        (plan.yjjbnt), one pair of tables per township, ids 1…n each."""
        next_id, next_farm = 1, 1
        for t in self.layout.townships:
            plan, farm = _ghydyh_batch(self, t, next_id, next_farm)
            next_id += len(plan)
            next_farm += len(farm)
            yield plan, farm

    def _shares(self) -> np.ndarray:
        """Each township's share of the land parcels: its dry land area
        weighted by the mean parcel density there."""
        lay = self.layout
        mass = np.empty(len(lay.townships))
        for t in lay.townships:
            land = shapely.difference(t.geom, lay.all_water)
            x, y = sample_points(land, 500, rng_for(self.seed, "shares", t.code))
            mass[t.index] = land.area * lay.density(x, y).mean()
        return mass / mass.sum()


def generate_city(scale: str = "small", seed: int = 1) -> DemoCity:
    """Generate the demo city for a scale ("small" or "city") and a seed."""
    if scale not in SCALES:
        raise ValueError(f"未知规模 unknown scale {scale!r}; one of {sorted(SCALES)}")
    lay = build_layout(seed)
    sizes = SCALES[scale]
    return DemoCity(
        scale=scale,
        seed=seed,
        xzq=_xzq(lay),
        plan_version=_table("plan.plan_version", plan_version=[PLAN_VERSION],
                            title=[PLAN_TITLE], valid_from=[PLAN_VALID_FROM], valid_to=[None]),
        czkfbj=_czkfbj(lay),
        stbhhx=_stbhhx(lay),
        lswhbhx=_lswhbhx(lay),
        dzzhd=_dzzhd(lay, sizes.hazards, rng_for(seed, "hazards", scale)),
        jsxm=_jsxm(lay, sizes.projects, rng_for(seed, "projects", scale)),
        layout=lay,
    )


# --- small layers ---------------------------------------------------------------


def _lonlat(geoms: list[shapely.Geometry] | np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local-frame shapes → valid MultiPolygons in lon/lat, their areas (m²,
    two decimals) and the mask of shapes kept. Crumbs (parts under 1 m²,
    which clipping cells to a piece leaves) go: a plan package must not
    carry them (GEOM-SLIVER)."""
    multi, keep = as_multipolygons(to_lonlat(np.asarray(geoms, dtype=object)),
                                   CRUMB_KM2 / (KM_PER_DEG_LON * KM_PER_DEG_LAT))
    return multi, np.round(ellipsoidal_area(multi), 2), keep


def _lonlat_all(geoms: list[shapely.Geometry]) -> tuple[np.ndarray, np.ndarray]:
    """_lonlat for shapes that must all survive (admin units, zones)."""
    multi, mj, keep = _lonlat(geoms)
    if not keep.all():
        raise ValueError("a polygon of a small layer lost all its area")
    return multi, mj


def _plan_columns(n: int) -> dict[str, np.ndarray]:
    return {"plan_version": np.full(n, PLAN_VERSION, dtype=object),
            "valid_from": np.full(n, PLAN_VALID_FROM, dtype=object),
            "valid_to": np.full(n, None, dtype=object)}


def _xzq(lay: Layout) -> Table:
    """行政区: the city, its counties and its townships."""
    units = ([(geo.CITY_CODE, geo.CITY_NAME, "市", None, lay.city)]
             + [(c.code, c.name, "县", geo.CITY_CODE, g) for c, g in lay.counties]
             + [(t.code, t.name, "乡", t.county.code, t.geom) for t in lay.townships])
    geoms, mj = _lonlat_all([u[4] for u in units])
    return _table("base.xzq", id=np.arange(1, len(units) + 1), xzqdm=[u[0] for u in units],
                  xzqmc=[u[1] for u in units], xzqjb=[u[2] for u in units],
                  sjxzqdm=[u[3] for u in units], mj=mj, geom=geoms)


def _czkfbj(lay: Layout) -> Table:
    """城镇开发边界."""
    geoms, mj = _lonlat_all([z.geom for z in lay.czkfbj])
    n = len(geoms)
    return _table("plan.czkfbj", id=np.arange(1, n + 1), bjbh=[z.code for z in lay.czkfbj],
                  bjmc=[z.name for z in lay.czkfbj], xzqdm=[z.xzqdm for z in lay.czkfbj],
                  mj=mj, **_plan_columns(n), geom=geoms)


def _stbhhx(lay: Layout) -> Table:
    """生态保护红线."""
    zones = [z for _, z in lay.stbhhx]
    geoms, mj = _lonlat_all([z.geom for z in zones])
    n = len(geoms)
    return _table("plan.stbhhx", id=np.arange(1, n + 1), hxbh=[z.code for z in zones],
                  hxmc=[z.name for z in zones], xzqdm=[z.xzqdm for z in zones], mj=mj,
                  **_plan_columns(n), geom=geoms)


def _blob(xy: tuple[float, float], area_km2: float, rng: np.random.Generator,
          vertices: int = 24) -> shapely.Polygon:
    """An irregular roundish polygon of about the given area."""
    angle = np.sort(rng.uniform(0, 2 * math.pi, vertices))
    r = math.sqrt(area_km2 / math.pi) * rng.uniform(0.75, 1.2, vertices)
    return shapely.Polygon(np.column_stack([xy[0] + r * np.cos(angle), xy[1] + r * np.sin(angle)]))


def _lswhbhx(lay: Layout) -> Table:
    """历史文化保护线: the historic sites as small irregular polygons."""
    rng = rng_for(lay.seed, "historic")
    rows = []
    for site in geo.HISTORIC_SITES:
        x, y = point_km(site.at)
        shape = shapely.intersection(_blob((x, y), site.area_ha / 100, rng), lay.city)
        where = lay.township_at(np.array([x]), np.array([y]))[0]
        if where >= 0 and not shape.is_empty:
            rows.append((site, shape, lay.townships[where].code))
    geoms, mj = _lonlat_all([r[1] for r in rows])
    n = len(rows)
    return _table("plan.lswhbhx", id=np.arange(1, n + 1),
                  bhxbh=[f"{geo.CITY_CODE}LS{k:03d}" for k in range(1, n + 1)],
                  bhxmc=[r[0].name for r in rows], bhlx=[r[0].kind for r in rows],
                  xzqdm=[r[2] for r in rows], mj=mj, **_plan_columns(n), geom=geoms)


def _pick(rng: np.random.Generator, options: tuple[str, ...], weights: tuple[float, ...],
          n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p / p.sum())]


def _dzzhd(lay: Layout, n: int, rng: np.random.Generator) -> Table:
    """地质灾害隐患点: mostly in the mountains and hills of the south-west."""
    x, y = sample_points(lay.city, n, rng,
                         lambda x, y: (0.1 + lay.land.elevation(x, y) ** 2) / 1.1)
    hilly = lay.land.elevation(x, y) > HILL_E
    kinds = ("滑坡", "崩塌", "泥石流", "地面塌陷")
    zhlx = np.where(hilly, _pick(rng, kinds, (60, 25, 12, 3), n),
                    _pick(rng, kinds, (35, 20, 5, 40), n))
    xqdj = _pick(rng, ("小型", "中型", "大型", "特大型"), (70, 22, 6, 2), n)
    where = lay.township_at(x, y)
    counter: dict[str, int] = {}
    codes, names, xzqdm = [], [], []
    for i in range(n):
        t = lay.townships[where[i]]
        counter[t.code] = counter.get(t.code, 0) + 1
        _, village = lay.village(t, x[i:i + 1], y[i:i + 1])
        codes.append(f"{t.code}ZH{counter[t.code]:03d}")
        names.append(f"{t.name}{t.village_names[village[0]]}{zhlx[i]}隐患点")
        xzqdm.append(t.code)
    return _table("base.dzzhd", id=np.arange(1, n + 1), zhdbh=codes, zhdmc=names, zhlx=zhlx,
                  xqdj=xqdj, xzqdm=xzqdm, geom=to_lonlat(shapely.points(x, y)))


# Where projects are: inside an urban development boundary, on farmland
# outside it, or in the hills and the red line; with the kinds usual there.
_PROJECT_SETTINGS = (
    ("urban", 0.70, ("工业", "居住", "商业", "公共服务", "交通", "物流仓储", "公用设施"),
     (30, 25, 12, 12, 8, 6, 7)),
    ("farmland", 0.15, ("工业", "交通", "公用设施", "物流仓储", "居住"), (35, 25, 15, 10, 15)),
    ("ecology", 0.15, ("旅游", "采矿", "水利", "交通", "公用设施"), (35, 25, 15, 15, 10)),
)


def _project_sites(lay: Layout, where: str, n: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Centres of n projects of a setting."""
    if where == "urban":
        return sample_points(lay.urban_zone, n, rng)
    if where == "ecology":
        return sample_points(lay.red_zone, n, rng,
                             lambda x, y: 1.0 - shapely.contains_xy(lay.all_water, x, y))
    zones = shapely.union_all([lay.urban_zone, lay.red_zone, lay.all_water])
    shapely.prepare(zones)

    def farmland(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Open land where the landscape is dominated by cropland."""
        crop = lay.land.groups(x, y, None, 0.0) == CROP
        return (crop & ~shapely.contains_xy(zones, x, y)).astype(float)

    return sample_points(lay.city, n, rng, farmland)


def _rectangle(x: float, y: float, area_km2: float, aspect: float, angle: float
               ) -> shapely.Polygon:
    """A rectangle of the given area and aspect, centred at (x, y), turned
    by angle (radians)."""
    half_w = math.sqrt(area_km2 * aspect) / 2
    half_h = math.sqrt(area_km2 / aspect) / 2
    corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return shapely.Polygon(corners @ turn.T + np.array([x, y]))


def _jsxm(lay: Layout, n: int, rng: np.random.Generator) -> Table:
    """建设项目: mostly inside the urban development boundaries, some outside
    on farmland or in the red line — the cases a compliance check meets."""
    counts = [round(n * share) for _, share, _, _ in _PROJECT_SETTINGS]
    counts[0] += n - sum(counts)
    rows: list[tuple[str, str, str, shapely.Geometry, Township]] = []
    for (where, _, kinds, weights), k in zip(_PROJECT_SETTINGS, counts, strict=True):
        x, y = _project_sites(lay, where, k, rng)
        kind = _pick(rng, kinds, weights, k)
        for i in range(k):
            linear = kind[i] == "交通"
            area_km2 = math.exp(rng.uniform(math.log(0.01), math.log(0.5)))
            aspect = rng.uniform(4, 10) if linear else rng.uniform(1, 2.5)
            box = _rectangle(x[i], y[i], area_km2, aspect, rng.uniform(0, math.pi))
            codes, names = geo.PROJECT_KINDS[kind[i]]
            t = lay.townships[lay.township_at(x[i:i + 1], y[i:i + 1])[0]]
            place = t.name.removesuffix("街道").removesuffix("镇").removesuffix("乡")
            name = names[rng.integers(len(names))].format(place=f"{t.county.name}{place}")
            rows.append((str(kind[i]), str(codes[rng.integers(len(codes))]), name,
                         shapely.intersection(box, lay.city), t))
    geoms, mj = _lonlat_all([r[3] for r in rows])
    seen: dict[str, int] = {}
    names, numbers, dates = [], [], []
    for _, _, name, _, t in rows:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}（{seen[name]}期）")
        approved = rng.random() > 0.15
        day = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 2372)))
        dates.append(day if approved else None)
        numbers.append(f"{t.county.code}{day.year}{len(numbers) + 1:04d}")
    return _table("impl.jsxm", id=np.arange(1, len(rows) + 1), xmbh=numbers, xmmc=names,
                  xmlx=[r[0] for r in rows], ydyhdm=[r[1] for r in rows],
                  jsdw=_pick(rng, geo.BUILDERS, (1,) * len(geo.BUILDERS), len(rows)),
                  pzrq=dates, xzqdm=[r[4].code for r in rows], mj=mj, geom=geoms)


# --- big layers, per township -------------------------------------------------


def _water_pieces(lay: Layout, t: Township) -> list[tuple[str, shapely.Geometry]]:
    """The township's rivers, lakes and reservoir, by DLBM."""
    pieces = []
    for code, water in lay.water.items():
        if shapely.intersects(water, t.geom):
            multi, keep = as_multipolygons(np.array([shapely.intersection(water, t.geom)]),
                                           CRUMB_KM2)
            if keep[0]:
                pieces.append((code, multi[0]))
    return pieces


def _cells(piece: shapely.Geometry, n: int, rng: np.random.Generator, lay: Layout,
           dense: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tessellate a piece into about n cells: cells and their sites."""
    if n <= 1:
        # One cell: no sampling, which could take long in a thin sliver.
        site = shapely.point_on_surface(piece)
        return np.array([piece], dtype=object), np.array([site.x]), np.array([site.y])
    x, y = sample_points(piece, n, rng, lay.density if dense else None)
    cells, keep = tessellate(piece, x, y)
    return cells, x[keep], y[keep]


def _dltb_batch(city: DemoCity, t: Township, land_cells: int, first_id: int) -> Table:
    """地类图斑 of one township: land_cells land parcels, and water."""
    lay = city.layout
    rng = rng_for(city.seed, "dltb", city.scale, t.code)
    water = _water_pieces(lay, t)
    land = shapely.difference(t.geom, lay.all_water)
    cell_area = lay.city.area / SCALES[city.scale].dltb
    water_n = [round(w.area / (WATER_CELL_FACTOR * cell_area)) for _, w in water]
    cells, x, y = _cells(land, land_cells, rng, lay, dense=True)
    village_near, village = lay.village(t, x, y)
    codes = current_codes(lay.land, x, y, lay.urban(x, y), village_near, rng)
    parts = [(cells, codes, village)]
    for (code, piece), n in zip(water, water_n, strict=True):
        w_cells, wx, wy = _cells(piece, n, rng, lay, dense=False)
        parts.append((w_cells, np.full(len(w_cells), survey_code_of(code), dtype=object),
                      lay.village(t, wx, wy)[1]))
    geoms, mj, keep = _lonlat(np.concatenate([p[0] for p in parts]))
    codes = np.concatenate([p[1] for p in parts])[keep]
    village = np.concatenate([p[2] for p in parts])[keep]
    n = len(geoms)
    local = np.arange(1, n + 1)
    survey_names = survey_names_zh()
    return _table(
        "base.dltb", id=np.arange(first_id, first_id + n), bsm=[f"{t.code}{k:07d}" for k in local],
        tbbh=[str(k) for k in local], dlbm=codes, dlmc=[survey_names[c] for c in codes],
        tbmj=mj, zldwdm=[f"{t.code}000{v + 1:03d}0000" for v in village], geom=geoms)


def _ghydyh_batch(city: DemoCity, t: Township, first_id: int, first_farm: int
                  ) -> tuple[Table, Table]:
    """规划用地用海 of one township, and the basic farmland among its cells.

    The township is first cut along the control lines (urban development
    boundary, red line, water), then every piece is tessellated on its own,
    so each line is a union of whole cells."""
    lay = city.layout
    rng = rng_for(city.seed, "ghydyh", city.scale, t.code)
    cell_area = lay.city.area / SCALES[city.scale].ghydyh
    urban = shapely.intersection(lay.urban_zone, t.geom)
    red = shapely.union_all([z.geom for tt, z in lay.stbhhx if tt is t])
    water = _water_pieces(lay, t)
    all_water = shapely.union_all([w for _, w in water])
    pieces: list[tuple[str, shapely.Geometry]] = [("urban", urban)]
    for code, w in water:
        pieces += [(code, shapely.intersection(w, red)), (code, shapely.difference(w, red))]
    pieces += [("red", shapely.difference(red, all_water)),
               ("open", shapely.difference(t.geom, shapely.union_all([urban, red, all_water])))]
    cells_all, codes_all, farm_mask = [], [], []
    for kind, piece in pieces:
        multi, keep = as_multipolygons(np.array([piece], dtype=object), CRUMB_KM2)
        if not keep[0]:
            continue
        piece = multi[0]
        factor = WATER_CELL_FACTOR if kind[0].isdigit() else 1.0
        cells, x, y = _cells(piece, round(piece.area / (factor * cell_area)), rng, lay,
                             dense=kind == "open")
        farm = np.zeros(len(cells), dtype=bool)
        if kind == "urban":
            codes = zone_codes(lay.urban(x, y, plan=True), rng)
        elif kind == "red":
            codes = red_line_codes(lay.land, x, y, rng)
        elif kind == "open":
            near, _ = lay.village(t, x, y)
            u = lay.urban(x, y)
            codes = planned_codes(lay.land, x, y, u, near, rng)
            # Basic farmland: most cropland, less of it next to villages and towns.
            keep_share = np.where((near < 0.3) & (u < 0.2), 0.88, 0.5)
            farm = np.char.startswith(codes.astype(str), "01") & (rng.random(len(x)) < keep_share)
        else:
            codes = np.full(len(cells), kind, dtype=object)
        cells_all.append(cells)
        codes_all.append(codes)
        farm_mask.append(farm)
    geoms, mj, keep = _lonlat(np.concatenate(cells_all))
    codes = np.concatenate(codes_all)[keep]
    farm = np.concatenate(farm_mask)[keep]
    n = len(geoms)
    landuse_names = names_zh()
    plan = _table(
        "plan.ghydyh", id=np.arange(first_id, first_id + n),
        bsm=[f"{t.code}{k:07d}" for k in range(1, n + 1)], ydyhdm=codes,
        ydyhmc=[landuse_names[c] for c in codes], xzqdm=np.full(n, t.code, dtype=object),
        mj=mj, **_plan_columns(n), geom=geoms)
    m = int(farm.sum())
    farmland = _table(
        "plan.yjjbnt", id=np.arange(first_farm, first_farm + m),
        bhtbbh=[f"{t.code}JB{k:05d}" for k in range(1, m + 1)], dlbm=codes[farm],
        xzqdm=np.full(m, t.code, dtype=object), mj=mj[farm], **_plan_columns(m),
        geom=geoms[farm])
    return plan, farmland
