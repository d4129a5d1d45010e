"""Which land-use class goes where: the landscape model shared by the current
land use (DLTB) and the plan (GHYDYH), so that the two agree outside the
areas the plan changes.

A cell's broad group (cropland, forest, …) is the best of per-group scores:
a weight from the terrain (elevation, nearness to the Dongting lakes, the tea
country of Anhua) times a smooth noise field, so classes come in patches, plus
a little per-cell randomness.  The class is then drawn within the group.
Current land use (DLTB) is coded as the land survey codes it (三调工作分类,
config/standards/survey-to-landuse.csv: 0601 is 工业用地 there); the plan
(GHYDYH) in the 2023 planning classification (landuse-classes.csv), to the
third level in the towns (一类/二类城镇住宅, 一类/二类工业 …).
"""

from __future__ import annotations

import numpy as np

from onemap.demo.geometry import GridField, SmoothNoise, point_km, rng_for

GROUPS = ("crop", "forest", "garden", "pond", "wetland", "grass", "other")
CROP, FOREST, GARDEN, POND, WETLAND, GRASS, OTHER = range(len(GROUPS))

HILL_E = 0.22          # elevation index above which the land is hilly
MOUNTAIN_E = 0.55      # … and mountainous

# Survey-coded mixes (code, weight) of current urban land, by position in a town.
URBAN_CORE = (("0701", 38), ("05H1", 16), ("08H1", 5), ("08H2", 10), ("1004", 15), ("1005", 2),
              ("0810", 8), ("0809", 3), ("0702", 3))
URBAN_FRINGE = (("0601", 24), ("0701", 24), ("0508", 6), ("1004", 11), ("0702", 9), ("1201", 5),
                ("1005", 3), ("1003", 4), ("0809", 3), ("0810", 4), ("08H2", 4), ("05H1", 3))
# Planning-coded mixes of planned land inside the urban development boundary,
# to the third level where a plan of this scale says it.
PLAN_CORE = (("070101", 6), ("070102", 30), ("0702", 5), ("090101", 8), ("090104", 4), ("0902", 5),
             ("0801", 4), ("080302", 2), ("080403", 5), ("080404", 1), ("080501", 2), ("080601", 2),
             ("080602", 1), ("1207", 12), ("120802", 1), ("120803", 1), ("1401", 8), ("1403", 2),
             ("1306", 1))
PLAN_FRINGE = (("100101", 12), ("100102", 16), ("100103", 2), ("070102", 22), ("110101", 5), ("110102", 2),
               ("1207", 10), ("120801", 1), ("120803", 1), ("1402", 6), ("1401", 4), ("080403", 3),
               ("090101", 4), ("1301", 1), ("1302", 1), ("1303", 2), ("1309", 1), ("1310", 1), ("0802", 1),
               ("16", 5))


def draw(mix: tuple[tuple[str, int], ...], rng: np.random.Generator, n: int) -> np.ndarray:
    """n codes drawn from a weighted mix."""
    codes = np.array([c for c, _ in mix], dtype=object)
    weights = np.array([w for _, w in mix], dtype=float)
    return codes[rng.choice(len(codes), size=n, p=weights / weights.sum())]


class Landscape:
    """The terrain-driven part of the land-use model."""

    def __init__(self, seed: int, elevation: GridField, wetness: GridField) -> None:
        rng = rng_for(seed, "landscape")
        self.elevation = elevation
        self.wetness = wetness
        self._patch = [SmoothNoise(rng, (1.5, 10.0)) for _ in GROUPS]
        self._paddy = SmoothNoise(rng, (3.0, 15.0))
        self._bamboo = SmoothNoise(rng, (5.0, 25.0))
        self._tea_x, _ = point_km((111.85, 28.3))      # east edge of the tea country
        self._bamboo_x, self._bamboo_y = point_km((112.0, 28.45))   # 桃江竹海

    def groups(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator | None,
               jitter: float) -> np.ndarray:
        """Broad group of each point; jitter scales per-point randomness
        (0 gives the smooth, dominant group)."""
        e = self.elevation(x, y)
        wet = self.wetness(x, y)
        tea = 1.0 / (1.0 + np.exp((x - self._tea_x) / 8.0))
        weight = np.column_stack([
            3.0 * (1 - e) ** 2 + 0.12,                                    # crop
            0.2 + 5.5 * e**1.4,                                           # forest
            0.10 + 0.9 * tea * np.exp(-(((e - 0.5) / 0.22) ** 2)),        # garden
            0.08 + 0.9 * (1 - e) ** 4 + 0.6 * wet,                        # pond
            0.005 + 3.0 * wet**1.5,                                       # wetland
            np.full_like(e, 0.04),                                        # grass
            np.full_like(e, 0.07),                                        # other
        ])
        score = np.log(weight) + 0.9 * np.column_stack([f(x, y) for f in self._patch])
        if rng is not None and jitter > 0:
            score += jitter * rng.gumbel(size=score.shape)
        return np.argmax(score, axis=1)

    def paddy_share(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of cropland that is paddy (水田) rather than dry land (旱地)."""
        e = self.elevation(x, y)
        return np.clip(0.92 - 0.9 * e + 0.2 * self._paddy(x, y), 0.08, 0.96)

    def bamboo_share(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of forest that is bamboo (竹林地), high around 桃江."""
        d = np.hypot(x - self._bamboo_x, y - self._bamboo_y)
        return np.clip(0.1 + 0.45 * np.exp(-((d / 35.0) ** 2)) + 0.1 * self._bamboo(x, y), 0.02, 0.7)

    def tea_share(self, x: np.ndarray) -> np.ndarray:
        """Share of garden land that is tea (茶园): Anhua dark tea country."""
        return 0.15 + 0.65 / (1.0 + np.exp((x - self._tea_x) / 8.0))


def _within_group(land: Landscape, group: np.ndarray, x: np.ndarray, y: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Survey code of current land use within each point's group."""
    n = len(group)
    e = land.elevation(x, y)
    r = rng.random(n)
    codes = np.empty(n, dtype=object)
    paddy = land.paddy_share(x, y)
    codes[:] = np.where(r < paddy, "0101", np.where(r < paddy + 0.03, "0102", "0103"))
    bamboo = land.bamboo_share(x, y)
    forest = np.where(r < bamboo, "0302", np.where(r < bamboo + 0.14, "0305",
                                                   np.where(r < bamboo + 0.2, "0307", "0301")))
    tea = land.tea_share(x)
    garden = np.where(r < tea, "0202", np.where(r < tea + 0.25, "0201", "0204"))
    pond = np.where(r < 0.78, "1104", np.where(r < 0.92, "1107", "1202"))
    wetland = np.where(r < 0.6, "1106", np.where(r < 0.9, "0402", "1108"))
    grass = np.where(r < 0.9, "0404", np.where(r < 0.95, "0401", "0403"))
    mountain = e > MOUNTAIN_E
    other = np.where(mountain, np.where(r < 0.5, "1207", np.where(r < 0.8, "1206", "1203")),
                     np.where(r < 0.55, "1203", np.where(r < 0.8, "1006",
                                                        np.where(r < 0.9, "1201", "1206"))))
    for g, values in ((FOREST, forest), (GARDEN, garden), (POND, pond), (WETLAND, wetland),
                      (GRASS, grass), (OTHER, other)):
        codes[group == g] = values[group == g]
    return codes


def current_codes(land: Landscape, x: np.ndarray, y: np.ndarray, urban: np.ndarray,
                  village: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """DLBM (survey code) of current land-use cells (地类图斑) at sites
    (x, y), given the urban intensity and the nearness to village centres
    there."""
    n = len(x)
    codes = _within_group(land, land.groups(x, y, rng, jitter=0.6), x, y, rng)
    e = land.elevation(x, y)
    # Scattered facilities of the countryside, by terrain.
    r = rng.random(n)
    extras = (
        (r < 0.010, "1006"), ((r >= 0.010) & (r < 0.017), "1003"),
        ((r >= 0.017) & (r < 0.026), "1202"),
        ((r >= 0.026) & (r < 0.030) & (e > HILL_E), "0602"),
        ((r >= 0.030) & (r < 0.033) & (e > HILL_E), "09"),
        ((r >= 0.033) & (r < 0.035) & (e < HILL_E), "1109"),
        ((r >= 0.035) & (r < 0.037) & (e < HILL_E), "1001"),
    )
    for mask, code in extras:
        codes[mask] = code
    # Villages: homesteads cluster around village centres, a few stand alone.
    home = rng.random(n) < np.clip(1.1 * village, 0, 0.85) + 0.012 * (e < MOUNTAIN_E)
    codes[home] = np.where(rng.random(int(home.sum())) < 0.95, "0702", "08H2")
    # Towns: the nearer a centre, the more surely urban, the more central.
    built = rng.random(n) < np.clip((urban - 0.25) / 0.35, 0, 1)
    core = built & (urban > 0.7)
    fringe = built & ~core
    codes[core] = draw(URBAN_CORE, rng, int(core.sum()))
    codes[fringe] = draw(URBAN_FRINGE, rng, int(fringe.sum()))
    return codes


def planned_codes(land: Landscape, x: np.ndarray, y: np.ndarray, urban: np.ndarray,
                  village: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """YDYHDM of planned cells outside the urban development boundary and
    the red line: the dominant land use, villages, a few facilities."""
    n = len(x)
    group = land.groups(x, y, rng, jitter=0.25)
    e = land.elevation(x, y)
    r = rng.random(n)
    paddy = land.paddy_share(x, y)
    bamboo = land.bamboo_share(x, y)
    tea = land.tea_share(x)
    by_group = np.array([
        np.where(r < paddy, "0101", "0103"),
        np.where(r < bamboo, "0302", np.where(r < bamboo + 0.12, "0303", "0301")),
        np.where(r < tea, "0202", "0201"),
        np.full(n, "1704"),
        np.where(r < 0.7, "0506", "0503"),
        np.full(n, "0403"),
        np.where(e > MOUNTAIN_E, "2307", "2303"),
    ], dtype=object)
    codes = by_group[group, np.arange(n)]
    r = rng.random(n)
    codes[r < 0.01] = "1202"
    codes[(r >= 0.01) & (r < 0.014) & (e > HILL_E)] = "1002"
    codes[(r >= 0.014) & (r < 0.016) & (e > HILL_E)] = "1506"
    codes[(r >= 0.016) & (r < 0.018) & (e < HILL_E)] = "1311"
    codes[village > 0.55] = "0703"
    town = urban > 0.5
    codes[town] = draw((("070301", 30), ("070302", 20), ("0704", 10), ("100101", 12), ("100102", 8),
                        ("080403", 5), ("1207", 10), ("090101", 5)), rng, int(town.sum()))
    return codes


def zone_codes(centre_share: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """YDYHDM of planned cells inside the urban development boundary; share
    is 1 at the boundary's centre, 0 at its edge."""
    codes = draw(PLAN_FRINGE, rng, len(centre_share))
    core = centre_share > 0.45
    codes[core] = draw(PLAN_CORE, rng, int(core.sum()))
    return codes


def red_line_codes(land: Landscape, x: np.ndarray, y: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """YDYHDM of planned land cells inside the ecological red line: forest in
    the mountains, wetland by the lakes."""
    r = rng.random(len(x))
    bamboo = land.bamboo_share(x, y)
    forest = np.where(r < bamboo, "0302", np.where(r < bamboo + 0.15, "0303", "0301"))
    wetland = np.where(r < 0.7, "0506", "0503")
    return np.where(land.wetness(x, y) > 0.3, wetland, forest).astype(object)
