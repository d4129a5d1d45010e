"""Indicator catalogue, models and monitoring values against the stack's
database, through the CLI an operator uses; known answers computed here
independently (shapely for the cut, pyproj's Geod for the ellipsoidal area,
the land-use changes undone in Python)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import shapely
from pyproj import Geod, Transformer

from onemap.core.units import M2_PER_MU
from processes.supervision import monitoring

CGCS2000 = Geod(a=6378137.0, f=1 / 298.257222101)
CROPLAND = ("0101", "0102", "0103")
URBAN_CONSTRUCTION = ("05", "06", "0701", "08", "09")


def onemap(database_url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "onemap.cli", *args], capture_output=True, text=True, env=env)
    if ok:
        assert out.returncode == 0, out.stderr
    return out


def stored_value(db, code: str, xzqdm: str, period: int) -> tuple[float, int | None, dict]:
    row = db.execute("SELECT value, model_version, data_versions FROM supervision.indicator_value "
                     "WHERE code = %s AND xzqdm = %s AND period = %s", (code, xzqdm, period)).fetchone()
    assert row is not None, (code, xzqdm, period)
    return row


def area_by_hand(db, xzqdm: str, year: int, prefixes: tuple[str, ...]) -> float:
    """m² of the township's current land use of the year in the classes:
    later changes undone, parcels cut by the township, Geod areas."""
    township = shapely.from_wkb(db.execute("SELECT ST_AsBinary(geom) FROM base.xzq WHERE xzqdm = %s",
                                           (xzqdm,)).fetchone()[0])
    before = {}
    for dltb_id, change_year, dlbm_before in db.execute(
            "SELECT dltb_id, year, dlbm_before FROM supervision.dltb_change ORDER BY year DESC"):
        if change_year > year:
            before[dltb_id] = dlbm_before  # the earliest later change wins: it is written last
    total = 0.0
    for dltb_id, dlbm, wkb in db.execute(
            "SELECT d.id, d.dlbm, ST_AsBinary(d.geom) FROM base.dltb d, base.xzq u "
            "WHERE u.xzqdm = %s AND d.geom && u.geom", (xzqdm,)):
        if before.get(dltb_id, dlbm).startswith(prefixes):
            part = shapely.intersection(shapely.from_wkb(wkb), township)
            if not part.is_empty:
                total += abs(CGCS2000.geometry_area_perimeter(part)[0])
    return total


@pytest.fixture(scope="module")
def changed_township(db) -> str:
    """The township that lost the most parcels to construction since 2020."""
    return db.execute("SELECT left(d.zldwdm, 9) FROM supervision.dltb_change c JOIN base.dltb d ON d.id = c.dltb_id "
                      "WHERE c.year > 2021 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]


@pytest.fixture(scope="module")
def computed(database_url):
    for year in (2021, 2025):
        onemap(database_url, "indicators", "compute", "--year", str(year))


def test_cropland_of_a_township_at_a_date_is_its_parcels_on_the_ellipsoid(db, computed, changed_township):
    by_year = {}
    for year in (2021, 2025):
        value, _, data_versions = stored_value(db, "ZB04", changed_township, year)
        by_hand = area_by_hand(db, changed_township, year, CROPLAND) / (M2_PER_MU * 1e4)  # 万亩
        assert value == pytest.approx(by_hand, rel=1e-6)
        assert data_versions["DLTB"]["year"] == year
        by_year[year] = value
    assert by_year[2025] < by_year[2021]  # the township built on cropland in 2022–2025


def test_city_and_county_values_add_up_their_townships(db, computed):
    county = db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '县' ORDER BY xzqdm LIMIT 1").fetchone()[0]
    townships = db.execute("SELECT sum(v.value) FROM supervision.indicator_value v JOIN base.xzq t USING (xzqdm) "
                           "WHERE v.code = 'ZB04' AND v.period = 2025 AND t.sjxzqdm = %s", (county,)).fetchone()[0]
    assert stored_value(db, "ZB04", county, 2025)[0] == pytest.approx(townships, rel=1e-9)


def test_a_per_capita_value_is_area_over_population(db, computed, changed_township):
    urban_population = stored_value(db, "ZB16U", changed_township, 2025)[0]  # 万人, imported statistics
    area = area_by_hand(db, changed_township, 2025, URBAN_CONSTRUCTION)
    value, _, data_versions = stored_value(db, "ZB17", changed_township, 2025)
    assert value == pytest.approx(area / (urban_population * 1e4), rel=1e-6)
    assert "indicator:ZB16U" in data_versions and "DLTB" in data_versions


def test_recomputing_a_past_year_gives_the_stored_values(db, computed):
    again = {(v.code, v.xzqdm): v.value for v in monitoring.compute(db, 2021, ["ZB04", "ZB05", "ZB17"])}
    stored = dict(((c, x), v) for c, x, v in db.execute(
        "SELECT code, xzqdm, value FROM supervision.indicator_value WHERE period = 2021 "
        "AND code IN ('ZB04', 'ZB05', 'ZB17')"))
    assert again and again.keys() == stored.keys()
    assert all(again[k] == pytest.approx(stored[k], rel=1e-12) for k in stored)


def test_a_model_version_change_is_recorded_in_its_values(db, database_url, computed, changed_township):
    before, version, _ = stored_value(db, "ZB04", changed_township, 2025)
    onemap(database_url, "indicators", "model-add", "cropland-area",
           json.dumps({"kind": "class_area", "layer": "DLTB", "classes": ["0101"]}))
    onemap(database_url, "indicators", "compute", "--year", "2025", "--indicator", "ZB04")
    paddy, new_version, _ = stored_value(db, "ZB04", changed_township, 2025)
    assert new_version == version + 1
    assert paddy == pytest.approx(area_by_hand(db, changed_township, 2025, ("0101",)) / (M2_PER_MU * 1e4), rel=1e-6)
    assert db.execute("SELECT count(*) FROM ops.audit WHERE action = 'indicators.model-add' "
                      "AND target = %s", (f"model/cropland-area/{new_version}",)).fetchone()[0] == 1
    # the configured parameters again, as a newer version
    onemap(database_url, "indicators", "model-add", "cropland-area",
           json.dumps({"kind": "class_area", "layer": "DLTB", "classes": list(CROPLAND)}))
    onemap(database_url, "indicators", "compute", "--year", "2025", "--indicator", "ZB04")
    restored, last_version, _ = stored_value(db, "ZB04", changed_township, 2025)
    assert (restored, last_version) == (pytest.approx(before, rel=1e-12), version + 2)


STATS_HEADER = "code,xzqdm,period,value,unit\n"


@pytest.mark.parametrize(("bad_row", "says"), [
    ("ZB15,999999999,2030,1.0,万人", "行政区代码 999999999 不存在"),
    ("ZB15,430900,2030,1.0,人", "计量单位应为 万人"),
    ("NOPE,430900,2030,1.0,万人", "指标 NOPE 不在指标目录中"),
    ("ZB15,430900,2030,1.0,万人", "与第 2 行重复"),
    ("ZB15,430900,二〇三〇,1.0,万人", "年度应为整数"),
])
def test_bad_statistics_are_refused_whole(db, database_url, tmp_path, bad_row, says):
    table = tmp_path / "stats.csv"
    table.write_text(STATS_HEADER + "ZB15,430900,2030,1.0,万人\n" + bad_row + "\n", encoding="utf-8")
    out = onemap(database_url, "indicators", "stats", str(table), ok=False)
    assert out.returncode == 2
    assert "第 3 行" in out.stderr and says in out.stderr and "Row 3" in out.stderr
    assert db.execute("SELECT count(*) FROM supervision.indicator_value WHERE period = 2030").fetchone()[0] == 0


OFFICIAL_HEADER = "code,name_zh,name_en,system,dimension,category,unit,type,direction,definition\n"
OFFICIAL_ROW = "YY-01,洞庭湖湿地保护面积,Dongting wetland protected,yiyang-own,安全,推荐,km²,约束性,higher,特色指标\n"


def test_a_bad_official_table_is_refused_whole(db, database_url, tmp_path):
    table = tmp_path / "table.csv"
    table.write_text(OFFICIAL_HEADER + OFFICIAL_ROW + OFFICIAL_ROW.replace("YY-01", "YY-02").replace("约束性", "必须"),
                     encoding="utf-8")
    out = onemap(database_url, "indicators", "import", str(table), ok=False)
    assert out.returncode == 2 and "第 3 行" in out.stderr and "type" in out.stderr
    assert db.execute("SELECT count(*) FROM supervision.indicator WHERE code LIKE 'YY-%'").fetchone()[0] == 0


def test_the_city_adds_its_own_indicator_from_a_table(db, database_url, tmp_path):
    table = tmp_path / "table.csv"
    table.write_text(OFFICIAL_HEADER + OFFICIAL_ROW, encoding="utf-8")
    assert "1" in onemap(database_url, "indicators", "import", str(table)).stdout
    listed = onemap(database_url, "indicators", "list", "--system", "yiyang-own").stdout
    assert "YY-01" in listed and "洞庭湖湿地保护面积" in listed
    shown = json.loads(onemap(database_url, "indicators", "show", "YY-01").stdout)
    assert shown["type"] == "约束性" and shown["systems"] == [{"system": "yiyang-own", "dimension": "安全"}]
    configured = json.loads(onemap(database_url, "indicators", "show", "ZB04").stdout)
    assert configured["model_version"]["kind"] == "class_area"
    assert db.execute("SELECT count(*) FROM ops.audit WHERE action = 'indicators.import'").fetchone()[0] >= 1


@pytest.fixture(scope="module")
def park_township(db) -> str:
    """The township with the most park parcels (and housing land)."""
    return db.execute("SELECT left(zldwdm, 9) FROM base.dltb WHERE dlbm LIKE '0810%' GROUP BY 1 "
                      "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]


def test_a_walking_share_is_the_housing_land_within_the_distance_of_parks(db, computed, park_township):
    """ZB24 of a township by hand: the parks' 300 m buffers drawn in
    EPSG:4546 with pyproj and shapely (8 segments a quarter circle, as
    PostGIS), the township's housing land cut by them, Geod areas."""
    to_gk = Transformer.from_crs(4490, 4546, always_xy=True)
    to_geographic = Transformer.from_crs(4546, 4490, always_xy=True)
    township = shapely.from_wkb(db.execute("SELECT ST_AsBinary(geom) FROM base.xzq WHERE xzqdm = %s",
                                           (park_township,)).fetchone()[0])
    housing = shapely.intersection(shapely.from_wkb([w for (w,) in db.execute(
        "SELECT ST_AsBinary(d.geom) FROM base.dltb d, base.xzq u WHERE u.xzqdm = %s AND d.geom && u.geom "
        "AND d.dlbm LIKE '0701%%'", (park_township,))]), township)  # 2025: no later change to undo
    parks = shapely.from_wkb([w for (w,) in db.execute(
        "SELECT ST_AsBinary(d.geom) FROM base.dltb d, base.xzq u WHERE u.xzqdm = %s "
        "AND d.geom && ST_Expand(u.geom, 0.01) AND d.dlbm LIKE '0810%%'", (park_township,))])
    reach = shapely.union_all(shapely.buffer(shapely.transform(parks, to_gk.transform, interleaved=False), 300))
    within = shapely.transform(shapely.intersection(
        shapely.transform(housing, to_gk.transform, interleaved=False), reach), to_geographic.transform,
        interleaved=False)
    total = sum(abs(CGCS2000.geometry_area_perimeter(g)[0]) for g in housing if not g.is_empty)
    near = sum(abs(CGCS2000.geometry_area_perimeter(g)[0]) for g in within if not g.is_empty)
    value, _, data_versions = stored_value(db, "ZB24", park_township, 2025)
    assert 0 < near < total  # a share that says something: some housing near a park, some not
    assert value == pytest.approx(near / total * 100, abs=0.01)
    assert data_versions["DLTB"]["year"] == 2025


def test_a_road_density_is_the_road_length_over_the_area_on_the_ellipsoid(db, computed, park_township):
    """ZB19 of a township by hand: the road centre lines cut by the township,
    Geod lengths (km) over its Geod area (km²)."""
    township = shapely.from_wkb(db.execute("SELECT ST_AsBinary(geom) FROM base.xzq WHERE xzqdm = %s",
                                           (park_township,)).fetchone()[0])
    roads = shapely.intersection(shapely.from_wkb([w for (w,) in db.execute(
        "SELECT ST_AsBinary(r.geom) FROM base.dlzxx r, base.xzq u WHERE u.xzqdm = %s AND r.geom && u.geom",
        (park_township,))]), township)
    km = sum(CGCS2000.geometry_length(g) for g in roads if not g.is_empty) / 1000
    km2 = abs(CGCS2000.geometry_area_perimeter(shapely.orient_polygons(township))[0]) / 1e6
    value, _, data_versions = stored_value(db, "ZB19", park_township, 2025)
    assert km > 0
    assert value == pytest.approx(km / km2, rel=1e-6)
    assert "DLZXX" in data_versions
