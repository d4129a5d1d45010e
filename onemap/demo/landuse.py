"""Which land-use class goes where: the landscape model shared by the current
land use (DLTB) and the plan (GHYDYH), so that the two agree outside the
areas the plan changes.

A cell's broad group (cropland, forest, …) is the best of per-group scores:
a weight from the terrain (elevation, nearness to the Dongting lakes, the tea
country of Anhua) times a smooth noise field, so classes come in patches, plus
a little per-cell randomness.  The level-2 code is then drawn within the group.
Codes are those of reference/landuse-classes.csv.
"""

from __future__ import annotations

import numpy as np

from onemap.demo.geometry import GridField, SmoothNoise, point_km, rng_for

LANDUSE_NAMES: dict[str, str] = {
    "0101": "水田", "0102": "水浇地", "0103": "旱地",
    "0201": "果园", "0202": "茶园", "0204": "其他园地",
    "0301": "乔木林地", "0302": "竹林地", "0303": "灌木林地", "0304": "其他林地",
    "0401": "天然牧草地", "0402": "人工牧草地", "0403": "其他草地",
    "0503": "沼泽草地", "0504": "其他沼泽地", "0506": "内陆滩涂",
    "0601": "乡村道路用地", "0602": "种植设施建设用地", "0603": "畜禽养殖设施建设用地",
    "0604": "水产养殖设施建设用地",
    "0701": "城镇住宅用地", "0702": "城镇社区服务设施用地", "0703": "农村宅基地",
    "0704": "农村社区服务设施用地",
    "0801": "机关团体用地", "0802": "科研用地", "0803": "文化用地", "0804": "教育用地",
    "0805": "体育用地", "0806": "医疗卫生用地", "0807": "社会福利用地",
    "0901": "商业用地", "0902": "商务金融用地",
    "1001": "工业用地", "1002": "采矿用地",
    "1101": "物流仓储用地",
    "1201": "铁路用地", "1202": "公路用地", "1207": "城镇道路用地",
    "1208": "交通场站用地",
    "1301": "供水用地", "1302": "排水用地", "1303": "供电用地", "1306": "通信用地",
    "1309": "环卫用地", "1310": "消防用地", "1311": "水工设施用地",
    "1401": "公园绿地", "1402": "防护绿地", "1403": "广场用地",
    "1503": "宗教用地", "1506": "殡葬用地",
    "16": "留白用地",
    "1701": "河流水面", "1702": "湖泊水面", "1703": "水库水面", "1704": "坑塘水面", "1705": "沟渠",
    "2301": "空闲地", "2302": "田坎", "2303": "田间道", "2306": "裸土地", "2307": "裸岩石砾地",
}

GROUPS = ("crop", "forest", "garden", "pond", "wetland", "grass", "other")
CROP, FOREST, GARDEN, POND, WETLAND, GRASS, OTHER = range(len(GROUPS))

HILL_E = 0.22          # elevation index above which the land is hilly
MOUNTAIN_E = 0.55      # … and mountainous

# Level-2 mixes (code, weight) of current urban land, by position in a town.
URBAN_CORE = (("0701", 34), ("0702", 4), ("0901", 12), ("0902", 4), ("0801", 5), ("0803", 2),
              ("0804", 5), ("0806", 3), ("1207", 15), ("1208", 2), ("1401", 6), ("1403", 2),
              ("1301", 1), ("1303", 1), ("1309", 1), ("0703", 3))
URBAN_FRINGE = (("1001", 24), ("0701", 24), ("1101", 6), ("1207", 11), ("0703", 9), ("2301", 5),
                ("1208", 3), ("1202", 4), ("1303", 2), ("1402", 4), ("0804", 3), ("0901", 3),
                ("1302", 1), ("0807", 1))
# … of planned land inside the urban development boundary.
PLAN_CORE = (("0701", 36), ("0702", 5), ("0901", 12), ("0902", 5), ("0801", 4), ("0803", 2),
             ("0804", 6), ("0805", 2), ("0806", 3), ("1207", 12), ("1208", 2), ("1401", 8),
             ("1403", 2), ("1306", 1))
PLAN_FRINGE = (("1001", 30), ("0701", 22), ("1101", 7), ("1207", 10), ("1208", 2), ("1402", 6),
               ("1401", 4), ("0804", 3), ("0901", 4), ("1301", 1), ("1302", 1), ("1303", 2),
               ("1309", 1), ("1310", 1), ("0802", 1), ("16", 5))


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
    """Level-2 code of current land use within each point's group."""
    n = len(group)
    e = land.elevation(x, y)
    r = rng.random(n)
    codes = np.empty(n, dtype=object)
    paddy = land.paddy_share(x, y)
    codes[:] = np.where(r < paddy, "0101", np.where(r < paddy + 0.03, "0102", "0103"))
    bamboo = land.bamboo_share(x, y)
    forest = np.where(r < bamboo, "0302", np.where(r < bamboo + 0.14, "0303",
                                                   np.where(r < bamboo + 0.2, "0304", "0301")))
    tea = land.tea_share(x)
    garden = np.where(r < tea, "0202", np.where(r < tea + 0.25, "0201", "0204"))
    pond = np.where(r < 0.78, "1704", np.where(r < 0.92, "1705", "0604"))
    wetland = np.where(r < 0.6, "0506", np.where(r < 0.9, "0503", "0504"))
    grass = np.where(r < 0.9, "0403", np.where(r < 0.95, "0401", "0402"))
    mountain = e > MOUNTAIN_E
    other = np.where(mountain, np.where(r < 0.5, "2307", np.where(r < 0.8, "2306", "2302")),
                     np.where(r < 0.55, "2302", np.where(r < 0.8, "2303",
                                                        np.where(r < 0.9, "2301", "2306"))))
    for g, values in ((FOREST, forest), (GARDEN, garden), (POND, pond), (WETLAND, wetland),
                      (GRASS, grass), (OTHER, other)):
        codes[group == g] = values[group == g]
    return codes


def current_codes(land: Landscape, x: np.ndarray, y: np.ndarray, urban: np.ndarray,
                  village: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """DLBM of current land-use cells (地类图斑) at sites (x, y), given the
    urban intensity and the nearness to village centres there."""
    n = len(x)
    codes = _within_group(land, land.groups(x, y, rng, jitter=0.6), x, y, rng)
    e = land.elevation(x, y)
    # Scattered facilities of the countryside, by terrain.
    r = rng.random(n)
    extras = (
        (r < 0.010, "0601"), ((r >= 0.010) & (r < 0.017), "1202"),
        ((r >= 0.017) & (r < 0.022), "0602"), ((r >= 0.022) & (r < 0.026), "0603"),
        ((r >= 0.026) & (r < 0.030) & (e > HILL_E), "1002"),
        ((r >= 0.030) & (r < 0.032) & (e > HILL_E), "1506"),
        ((r >= 0.032) & (r < 0.033), "1503"),
        ((r >= 0.033) & (r < 0.035) & (e < HILL_E), "1311"),
        ((r >= 0.035) & (r < 0.037) & (e < HILL_E), "1201"),
    )
    for mask, code in extras:
        codes[mask] = code
    # Villages: homesteads cluster around village centres, a few stand alone.
    home = rng.random(n) < np.clip(1.1 * village, 0, 0.85) + 0.012 * (e < MOUNTAIN_E)
    codes[home] = np.where(rng.random(int(home.sum())) < 0.95, "0703", "0704")
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
        np.where(e > MOUNTAIN_E, "2307", "2302"),
    ], dtype=object)
    codes = by_group[group, np.arange(n)]
    r = rng.random(n)
    codes[r < 0.01] = "1202"
    codes[(r >= 0.01) & (r < 0.014) & (e > HILL_E)] = "1002"
    codes[(r >= 0.014) & (r < 0.016) & (e > HILL_E)] = "1506"
    codes[(r >= 0.016) & (r < 0.018) & (e < HILL_E)] = "1311"
    codes[village > 0.55] = "0703"
    town = urban > 0.5
    codes[town] = draw((("0703", 50), ("0704", 10), ("1001", 20), ("0804", 5), ("1207", 10),
                        ("0901", 5)), rng, int(town.sum()))
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
