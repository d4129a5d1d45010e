"""The demo city generator (onemap.demo.generate), at the small scale, without
a database: admin units tile the city, current and planned land use tile it,
the three control lines never overlap, farmland lies on planned cropland, all
geometries are valid, and the same seed gives the same bytes."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod

from onemap.demo.generate import DemoCity, Table, generate_city

# The codes of the planning classification (2023, three levels) and of the
# survey's working classification, read from the tables themselves.
STANDARDS = Path(__file__).resolve().parents[2] / "config" / "standards"
with open(STANDARDS / "landuse-classes.csv", encoding="utf-8") as _f:
    CLASSIFICATION = {row["code"] for row in csv.DictReader(_f)}
with open(STANDARDS / "survey-to-landuse.csv", encoding="utf-8") as _f:
    SURVEY = {row["survey_code"]: row["survey_name_zh"] for row in csv.DictReader(_f)}
LEVEL1_ONLY = {"16", "18", "19", "20", "21", "22", "24"}
URBAN_PREFIXES = ("07", "08", "09", "10", "11", "12", "13", "14", "16")

GEOD = Geod(ellps="GRS80")


def area_m2(geom: shapely.Geometry) -> float:
    """Ellipsoidal area of the polygons of a geometry, computed here
    independently of the generator (pyproj would take a line for a ring)."""
    parts = shapely.get_parts(geom)
    polygons = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
    return sum(abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(p))[0]) for p in polygons)


def overlap_m2(a: np.ndarray, b: np.ndarray | None = None) -> tuple[float, float]:
    """Total and largest area (m²) shared by two shapes of a (with b: one of
    a and one of b)."""
    tree = shapely.STRtree(a if b is None else b)
    i, j = tree.query(a, predicate="intersects")
    if b is None:
        i, j = i[i < j], j[i < j]
        b = a
    shared = shapely.intersection(a[i], b[j])
    areas = [area_m2(g) for g in shared if shapely.area(g) > 0]
    return float(sum(areas)), float(max(areas, default=0.0))


def concat(tables: list[Table], column: str) -> np.ndarray:
    return np.concatenate([t.columns[column] for t in tables])


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate_city("small", seed=1)


@pytest.fixture(scope="module")
def dltb(city: DemoCity) -> list[Table]:
    return list(city.dltb())


@pytest.fixture(scope="module")
def plan(city: DemoCity) -> tuple[list[Table], list[Table]]:
    pairs = list(city.ghydyh())
    return [p for p, _ in pairs], [f for _, f in pairs]


def units(city: DemoCity, level: str) -> dict[str, tuple[str, str | None, float, shapely.Geometry]]:
    c = city.xzq.columns
    return {code: (name, parent, mj, geom)
            for code, name, jb, parent, mj, geom in zip(
                c["xzqdm"], c["xzqmc"], c["xzqjb"], c["sjxzqdm"], c["mj"], c["geom"], strict=True)
            if jb == level}


def test_admin_units_tile_the_city(city):
    (city_code, (name, _, city_mj, city_geom)), = units(city, "市").items()
    assert (city_code, name) == ("430900", "益阳市")
    assert 11_900e6 < city_mj < 12_300e6
    lon0, lat0, lon1, lat1 = city_geom.bounds
    assert 110.6 < lon0 < 110.9 and 112.8 < lon1 < 113.0
    assert 27.9 < lat0 < 28.1 and 29.4 < lat1 < 29.6

    counties = units(city, "县")
    assert {code: v[0] for code, v in counties.items()} == {
        "430902": "资阳区", "430903": "赫山区", "430921": "南县", "430922": "桃江县",
        "430923": "安化县", "430981": "沅江市", "430971": "大通湖区"}
    assert all(v[1] == "430900" for v in counties.values())
    assert max(counties, key=lambda k: counties[k][2]) == "430923"      # 安化, the largest
    assert 4_500e6 < counties["430923"][2] < 5_400e6
    geoms = np.array([v[3] for v in counties.values()])
    assert area_m2(shapely.union_all(geoms)) == pytest.approx(city_mj, rel=1e-4)
    assert sum(v[2] for v in counties.values()) == pytest.approx(city_mj, rel=1e-4)
    assert overlap_m2(geoms)[0] < 1.0

    townships = units(city, "乡")
    assert len(townships) == 85
    for code, (name, parent, _, _) in townships.items():
        assert len(code) == 9 and code.startswith(parent) and parent in counties
        assert name.endswith(("镇", "乡", "街道"))
    assert overlap_m2(np.array([v[3] for v in townships.values()]))[0] < 1.0
    for county, (_, _, county_mj, _) in counties.items():
        inside = [v[2] for v in townships.values() if v[1] == county]
        assert sum(inside) == pytest.approx(county_mj, rel=1e-4)


def test_every_geometry_is_valid_and_typed(city, dltb, plan):
    polygon_layers = [city.xzq, city.czkfbj, city.stbhhx, city.lswhbhx, city.jsxm, *dltb,
                      *plan[0], *plan[1]]
    for table in polygon_layers:
        geoms = table.columns["geom"]
        assert shapely.is_valid(geoms).all(), table.name
        assert (shapely.get_type_id(geoms) == shapely.GeometryType.MULTIPOLYGON).all(), table.name
        assert (shapely.area(geoms) > 0).all(), table.name
    points = city.dzzhd.columns["geom"]
    assert (shapely.get_type_id(points) == shapely.GeometryType.POINT).all()


def test_current_land_use_tiles_the_city(city, dltb):
    geoms = concat(dltb, "geom")
    assert 18_000 <= len(geoms) <= 22_000
    city_mj = units(city, "市")["430900"][2]
    tbmj = concat(dltb, "tbmj")
    assert tbmj.sum() == pytest.approx(city_mj, rel=1e-4)
    total, largest = overlap_m2(geoms)
    assert total < 10.0 and largest < 1.0
    sample = np.random.default_rng(0).choice(len(geoms), 200, replace=False)
    for k in sample:
        assert tbmj[k] == pytest.approx(area_m2(geoms[k]), rel=1e-6, abs=0.01)
    assert (concat(dltb, "id") == np.arange(1, len(geoms) + 1)).all()
    assert len(set(concat(dltb, "bsm"))) == len(geoms)
    townships = units(city, "乡")
    for batch in dltb:
        zldwdm = batch.columns["zldwdm"]
        assert all(len(z) == 19 and z[:9] in townships for z in zldwdm)
        assert len({z[:9] for z in zldwdm}) == 1
        assert len(set(batch.columns["tbbh"])) == len(batch)


def test_current_land_use_classes_are_plausible(dltb):
    """Survey codes (三调工作分类): 0601 is 工业用地, 0702 农村宅基地, water 11xx."""
    codes = concat(dltb, "dlbm")
    names = concat(dltb, "dlmc")
    assert set(codes) <= set(SURVEY)
    named = dict(zip(codes, names, strict=True))
    assert all(SURVEY[c] == n for c, n in named.items())
    assert named["0101"] == "水田" and named["0601"] == "工业用地" and named["0702"] == "农村宅基地"
    share = {}
    for code, mj in zip(codes, concat(dltb, "tbmj"), strict=True):
        share[code] = share.get(code, 0.0) + mj
    total = sum(share.values())
    group = {g: sum(v for c, v in share.items() if c.startswith(g)) / total
             for g in ("01", "03", "11", "07")}
    assert 0.2 < group["01"] < 0.5 and 0.25 < group["03"] < 0.55
    assert 0.03 < group["11"] < 0.25 and 0.02 < group["07"] < 0.12
    for code in ("0101", "0103", "0301", "0302", "0202", "0702", "0701", "0601", "1004", "05H1",
                 "1101", "1102", "1104", "1203", "1006"):
        assert code in share, code
    # Forest dominates the mountains of 安化, paddy the lake plain of 南县.
    by_county: dict[str, dict[str, float]] = {}
    for code, mj, z in zip(codes, concat(dltb, "tbmj"), concat(dltb, "zldwdm"), strict=True):
        county = by_county.setdefault(z[:6], {})
        county[code[:2]] = county.get(code[:2], 0.0) + mj
    assert by_county["430923"]["03"] > 2 * by_county["430923"]["01"]
    assert by_county["430921"]["01"] > 3 * by_county["430921"].get("03", 0.0)


def test_planned_land_use_tiles_the_city(city, dltb, plan):
    plans, _ = plan
    geoms = concat(plans, "geom")
    assert 0.4 < len(geoms) / sum(len(t) for t in dltb) < 0.6
    city_mj = units(city, "市")["430900"][2]
    assert concat(plans, "mj").sum() == pytest.approx(city_mj, rel=1e-4)
    total, largest = overlap_m2(geoms)
    assert total < 10.0 and largest < 1.0
    codes = concat(plans, "ydyhdm")
    assert set(codes) <= CLASSIFICATION
    assert all(len(c) in (4, 6) or c in LEVEL1_ONLY for c in codes)
    # the towns are planned to the third level
    assert {"070101", "070102", "100101", "100102", "090101"} <= set(codes)
    assert set(concat(plans, "xzqdm")) <= set(units(city, "乡"))
    assert set(concat(plans, "plan_version")) == set(city.plan_version.columns["plan_version"])


def test_control_lines_do_not_overlap(city, plan):
    plans, farmland = plan
    urban = city.czkfbj.columns["geom"]
    red = city.stbhhx.columns["geom"]
    farm = concat(farmland, "geom")
    assert 10 <= len(urban) <= 80
    assert 100 <= len(red) <= 600
    assert len(farm) > 1000
    for a, b in ((urban, red), (urban, farm), (red, farm)):
        assert overlap_m2(a, b)[1] < 1.0
    for layer in (urban, red, farm):
        assert overlap_m2(layer)[1] < 1.0
    assert len(set(concat(farmland, "bhtbbh"))) == len(farm)
    assert len(set(city.stbhhx.columns["hxbh"])) == len(red)
    assert len(set(city.czkfbj.columns["bjbh"])) == len(urban)
    assert any(name == "益阳市中心城区（资阳区片区）城镇开发边界"
               for name in city.czkfbj.columns["bjmc"])


def test_control_lines_agree_with_the_plan(city, plan):
    plans, farmland = plan
    geoms = concat(plans, "geom")
    codes = concat(plans, "ydyhdm")
    tree = shapely.STRtree(geoms)

    def plan_codes_under(shapes: np.ndarray) -> np.ndarray:
        where, cell = tree.query(shapely.point_on_surface(shapes), predicate="within")
        assert (np.sort(where) == np.arange(len(shapes))).all()
        return codes[cell[np.argsort(where)]]

    farm_codes = plan_codes_under(concat(farmland, "geom"))
    assert all(c.startswith("01") for c in farm_codes)
    assert (farm_codes == concat(farmland, "dlbm")).all()
    # Every plan cell inside the urban development boundary is urban land.
    urban = shapely.union_all(city.czkfbj.columns["geom"])
    inside = shapely.contains_properly(urban, shapely.point_on_surface(geoms))
    assert inside.sum() > 100
    assert all(c.startswith(URBAN_PREFIXES) for c in codes[inside])
    red = shapely.union_all(city.stbhhx.columns["geom"])
    in_red = shapely.contains_properly(red, shapely.point_on_surface(geoms))
    assert all(c.startswith(("03", "05", "17")) for c in codes[in_red])


def test_small_layers(city):
    assert len(city.plan_version) == 1
    version = next(city.plan_version.rows())
    assert version["plan_version"] == "2021-2035-v1" and version["valid_to"] is None
    assert version["title"] == "益阳市国土空间总体规划（2021—2035年）"
    assert version["valid_from"].isoformat() == "2023-01-01T00:00:00+08:00"

    assert 15 <= len(city.lswhbhx) <= 30
    assert "安化黄沙坪古茶市" in set(city.lswhbhx.columns["bhxmc"])

    hazards = city.dzzhd.columns
    assert 250 <= len(city.dzzhd) <= 350
    assert set(hazards["zhlx"]) <= {"滑坡", "崩塌", "泥石流", "地面塌陷"}
    assert set(hazards["xqdj"]) <= {"小型", "中型", "大型", "特大型"}
    in_anhua = sum(code.startswith("430923") for code in hazards["xzqdm"])
    assert in_anhua > 0.5 * len(city.dzzhd)
    assert len(set(hazards["zhdbh"])) == len(city.dzzhd)

    projects = city.jsxm.columns
    assert 150 <= len(city.jsxm) <= 250
    assert ((projects["mj"] > 0.3e4) & (projects["mj"] < 60e4)).all()
    assert set(projects["ydyhdm"]) <= CLASSIFICATION
    assert len(set(projects["xmmc"])) == len(city.jsxm)
    urban = shapely.union_all(city.czkfbj.columns["geom"])
    red = shapely.union_all(city.stbhhx.columns["geom"])
    in_urban = shapely.intersects(urban, projects["geom"])
    assert 0.5 < in_urban.mean() < 0.9
    assert shapely.intersects(red, projects["geom"]).sum() >= 10


def test_the_same_seed_gives_the_same_bytes(city):
    again = generate_city("small", seed=1)
    for a, b in zip(city.small_tables(), again.small_tables(), strict=True):
        if "geom" in a.columns:
            assert (shapely.to_wkb(a.columns["geom"]) == shapely.to_wkb(b.columns["geom"])).all()
        assert all(str(x) == str(y) for name in a.columns if name != "geom"
                   for x, y in zip(a.columns[name], b.columns[name], strict=True))
    for a, b in zip(itertools.islice(city.dltb(), 2), itertools.islice(again.dltb(), 2),
                    strict=True):
        assert (shapely.to_wkb(a.columns["geom"]) == shapely.to_wkb(b.columns["geom"])).all()
        assert (a.columns["dlbm"] == b.columns["dlbm"]).all()
    (p1, f1), = itertools.islice(city.ghydyh(), 1)
    (p2, f2), = itertools.islice(again.ghydyh(), 1)
    assert (shapely.to_wkb(p1.columns["geom"]) == shapely.to_wkb(p2.columns["geom"])).all()
    assert (f1.columns["bhtbbh"] == f2.columns["bhtbbh"]).all()


def test_unknown_scale_is_refused():
    with pytest.raises(ValueError, match="scale"):
        generate_city("huge")
