"""Supervision results as standard services (指标监测服务): the indicator
values as OGC API Features (ZBJC, `datetime` selects the year) read with
OWSLib, the townships' warning map (ZBYJ) through WMS and WMTS whose pixel has the
colour of the level computed here from values and targets; the trend and
control-line warning rules against an independent reading of the data;
model versions activated and rolled back through the admin API and the CLI,
the version recorded in the values."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import requests
from owslib.ogcapi.features import Features
from owslib.util import Authentication
from owslib.wms import WebMapService

from onemap.core.settings import config_dir, load_yaml
from onemap.styles.model import load_style, rgb
from tests.conftest import auth
from tests.integration.parcels import pixel_at

YEAR = 2024  # the demo's land-use changes of 2024 put construction into the farmland
CODES = ["ZB03", "ZB04", "ZB05"]
CONSTRUCTION = ("05", "06", "07", "08", "09", "1003", "1004", "1005", "1007", "1008", "1009", "1109")


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def execute(http, ogc_url, token, process, inputs):
    r = http.post(f"{ogc_url}/processes/{process}/execution", json={"inputs": inputs},
                  headers=auth(token), timeout=600)
    assert r.status_code == 200, r.text
    return r.json()


def target_level(value: float, target: float, direction: str, margin_pct: float) -> str:
    if direction == "higher":
        return "red" if value < target else "yellow" if value < target * (1 + margin_pct / 100) else "green"
    return "red" if value > target else "yellow" if value > target * (1 - margin_pct / 100) else "green"


def target_levels(db) -> dict[tuple[str, str], str]:
    """(indicator, unit) -> the level the target rule gives the stored value
    of YEAR against the target of the next target year."""
    rules = load_yaml(config_dir() / "indicators" / "warnings.yaml")
    margin = rules["rules"]["binding-target"]["yellow_margin_pct"]
    return {(code, xzqdm): target_level(value, target, direction, margin) for code, xzqdm, value, target, direction
            in db.execute("SELECT v.code, v.xzqdm, v.value, t.value, i.direction FROM supervision.indicator_value v "
                          "JOIN supervision.indicator i USING (code) JOIN supervision.indicator_target t "
                          "ON t.code = v.code AND t.xzqdm = v.xzqdm AND t.target_year = 2025 "
                          "WHERE v.period = %s AND v.code = ANY(%s)", (YEAR, CODES))}


@pytest.fixture(scope="module")
def assessed(http, ogc_url, tokens, db):
    """The values of YEAR and, for one township green by its target, three
    earlier years of cropland each higher than the next (a fall toward the
    target, reported); then the warnings of YEAR. The earlier years are
    removed afterwards."""
    execute(http, ogc_url, tokens["staff"], "indicator-compute", {"year": YEAR, "indicators": CODES})
    falling = next(x for (code, x), level in sorted(target_levels(db).items()) if code == "ZB04" and level == "green"
                   and x in {t for t, in db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡'")})
    value = db.execute("SELECT value FROM supervision.indicator_value WHERE code = 'ZB04' AND xzqdm = %s "
                       "AND period = %s", (falling, YEAR)).fetchone()[0]
    earlier = {YEAR - n: value * (1 + 0.01 * n) for n in (1, 2, 3)}
    db.execute("DELETE FROM supervision.indicator_value WHERE code = 'ZB04' AND xzqdm = %s AND period = ANY(%s)",
               (falling, list(earlier)))
    for year, v in earlier.items():
        db.execute("INSERT INTO supervision.indicator_value (code, xzqdm, period, value, unit, source, recorded_by) "
                   "VALUES ('ZB04', %s, %s, %s, '万亩', 'reported', 'pytest')", (falling, year, v))
    try:
        warnings = execute(http, ogc_url, tokens["staff"], "indicator-warning", {"year": YEAR, "indicators": CODES})
        yield {"falling": falling, "earlier": earlier, "warnings": warnings}
    finally:
        db.execute("DELETE FROM supervision.indicator_value WHERE code = 'ZB04' AND xzqdm = %s "
                   "AND recorded_by = 'pytest'", (falling,))


def test_indicator_values_as_features_by_year(ogc_url, tokens, db, assessed):
    # the token by an auth delegate: OWSLib's `headers` would stay in its
    # module-wide defaults and reach every later client of the session
    features = Features(ogc_url, auth=Authentication(auth_delegate=Bearer(tokens["staff"])))
    assert "ZBJC" in [c["id"] for c in features.collections()["collections"]]
    expected = target_levels(db)
    by_year = {}
    for year in (YEAR - 1, YEAR):
        items = features.collection_items("ZBJC", zbbm="ZB04", datetime_=f"{year}-06-30T00:00:00Z", limit=1000)
        by_year[year] = {f["properties"]["xzqdm"]: f["properties"] for f in items["features"]}
        # a value stands from its year until the next year with a value
        stored = {x: v for x, _, v in db.execute(
            "SELECT DISTINCT ON (xzqdm) xzqdm, period, value FROM supervision.indicator_value WHERE code = 'ZB04' "
            "AND period <= %s ORDER BY xzqdm, period DESC", (year,))}
        assert {x: p["zbz"] for x, p in by_year[year].items()} == pytest.approx(stored)
    assert by_year[YEAR - 1][assessed["falling"]]["zbz"] == pytest.approx(assessed["earlier"][YEAR - 1])
    assert by_year[YEAR - 1][assessed["falling"]]["jcnd"] == YEAR - 1
    red = [p for x, p in by_year[YEAR].items() if expected[("ZB04", x)] == "red"]
    assert red and all(p["yjdj"] == "红色" and p["level"] == "red" and p["mbnd"] == 2025 and p["zbz"] < p["mbz"]
                       for p in red)  # red is the worst level: no other rule changes it
    # anonymous callers do not see the internal collection
    assert requests.get(f"{ogc_url}/collections/ZBJC/items", timeout=30).status_code in (401, 403, 404)


def test_township_warning_map_has_the_level_colour(base_url, ogc_url, tokens, db, assessed):
    red_units = {x for (code, x), level in target_levels(db).items() if level == "red"}
    xzqdm, lon, lat, radius = db.execute(
        "SELECT t.xzqdm, ST_X(c.center), ST_Y(c.center), c.radius FROM base.xzq t, "
        "LATERAL ST_MaximumInscribedCircle(t.geom) c WHERE t.xzqjb = '乡' AND t.xzqdm = ANY(%s) "
        "ORDER BY c.radius DESC LIMIT 1", (sorted(red_units),)).fetchone()
    feature = requests.get(f"{ogc_url}/collections/ZBYJ/items", params={"xzqdm": xzqdm, "f": "json"},
                           headers=auth(tokens["staff"]), timeout=60).json()["features"]
    assert [(f["properties"]["yjdj"], f["properties"]["jcnd"]) for f in feature] == [("红色", YEAR)]
    wms = WebMapService(f"{base_url}/mapproxy/service", version="1.3.0", timeout=60, headers=auth(tokens["staff"]))
    assert "ZBYJ" in wms.contents and "ZBJC" in wms.contents
    # 16 pixels across the inscribed circle: a scale at which no label is drawn
    dlat = radius * 0.8
    dlon = dlat / math.cos(math.radians(lat))
    # x/y order: OWSLib sends it latitude first, as WMS 1.3 wants for EPSG:4490
    png = wms.getmap(layers=["ZBYJ"], styles=[""], srs="EPSG:4490", format="image/png", transparent=True,
                     size=(16, 16), bbox=(lon - dlon, lat - dlat, lon + dlon, lat + dlat)).read()
    red = next(r for r in load_style("indicator-level").rules if r.name == "red")
    expected = (*rgb(red.symbol.fill), round(red.symbol.fill_opacity * 255))

    def assert_red(pixel: tuple[int, int, int, int], what: str) -> None:
        assert all(abs(a - b) <= 6 for a, b in zip(pixel, expected, strict=True)), f"{what}: {pixel} != {expected}"

    assert_red(pixel_at(png, 8, 8), "WMS")
    # WMTS: the tile of the circle's centre at a zoom where it spans pixels and no label is drawn
    z = max(zoom for zoom in range(6, 11) if radius * 2 ** zoom * 256 / 360 >= 8)  # labels from 10.9
    n = 2 ** z
    fx = (lon + 180) / 360 * n
    fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    tile = requests.get(f"{base_url}/mapproxy/wmts/ZBYJ/WebMercatorQuad/{z}/{int(fx)}/{int(fy)}.png",
                        headers=auth(tokens["staff"]), timeout=60)
    assert tile.status_code == 200 and tile.headers["Content-Type"] == "image/png", tile.text[:300]
    assert_red(pixel_at(tile.content, int(fx % 1 * 256), int(fy % 1 * 256)), f"WMTS {z}/{int(fx)}/{int(fy)}")


def test_trend_and_control_line_rules(db, assessed):
    warnings = {(c, x): (lv, rule) for c, x, lv, rule in db.execute(
        "SELECT code, xzqdm, level, rule FROM supervision.warning WHERE period = %s AND state <> 'closed' "
        "AND code = ANY(%s)", (YEAR, CODES))}
    # trend: green by its target, but falling toward it in each of the last three years
    assert warnings["ZB04", assessed["falling"]] == ("yellow", "approaching-target")
    level, = db.execute("SELECT level FROM supervision.indicator_value WHERE code = 'ZB04' AND xzqdm = %s "
                        "AND period = %s", (assessed["falling"], YEAR)).fetchone()
    assert level == "yellow"
    # control line: construction of the year inside the permanent basic farmland, found per township here
    end = f"make_timestamptz({YEAR}, 12, 31, 23, 59, 59, 'Asia/Shanghai')"
    encroached = {x for x, in db.execute(
        "WITH inside AS (SELECT ST_Intersection(d.geom, y.geom) AS geom FROM supervision.dltb_change c"
        " JOIN base.dltb d ON d.id = c.dltb_id JOIN plan.yjjbnt y ON ST_Intersects(d.geom, y.geom)"
        f" WHERE c.year = %s AND c.dlbm_after LIKE ANY(%s) AND y.valid_from <= {end}"
        f" AND (y.valid_to IS NULL OR y.valid_to > {end}))"
        " SELECT DISTINCT t.xzqdm FROM base.xzq t JOIN inside i ON ST_Intersects(i.geom, t.geom)"
        " WHERE t.xzqjb = '乡' AND ST_Area(ST_Intersection(i.geom, t.geom)::geography) > 0",
        (YEAR, [f"{c}%" for c in CONSTRUCTION]))}
    flagged = {x for (c, x), (lv, rule) in warnings.items()
               if c == "ZB03" and rule == "farmland-encroachment" and lv == "red"}
    townships = {x for x, in db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡'")}
    assert encroached and flagged & townships == encroached
    # and the county and the city above them
    assert {x for x, in db.execute("SELECT sjxzqdm FROM base.xzq WHERE xzqdm = ANY(%s)", (sorted(encroached),))
            } <= flagged


def test_model_versions_activate_and_roll_back(base_url, http, ogc_url, tokens, db, database_url):
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    params = db.execute("SELECT params FROM supervision.model_version WHERE model = 'farmland-area' AND active"
                        ).fetchone()[0]
    added = subprocess.run([sys.executable, "-m", "onemap.cli", "indicators", "model-add", "farmland-area",
                            json.dumps({"kind": "class_area", **params})], capture_output=True, text=True, env=env)
    assert added.returncode == 0, added.stderr
    newest = db.execute("SELECT max(version) FROM supervision.model_version WHERE model = 'farmland-area'"
                        ).fetchone()[0]

    def recorded_version() -> int:
        execute(http, ogc_url, tokens["staff"], "indicator-compute", {"year": YEAR, "indicators": ["ZB03"]})
        return db.execute("SELECT DISTINCT model_version FROM supervision.indicator_value WHERE code = 'ZB03' "
                          "AND period = %s", (YEAR,)).fetchall()

    assert recorded_version() == [(newest,)]
    admin = auth(tokens["admin"])
    assert requests.post(f"{base_url}/admin/indicator-models/farmland-area/rollback", headers=auth(tokens["staff"]),
                         timeout=30).status_code == 403
    r = requests.post(f"{base_url}/admin/indicator-models/farmland-area/rollback", headers=admin, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"model": "farmland-area", "active": newest - 1, "previous": newest, "action": "rollback"}
    assert recorded_version() == [(newest - 1,)]
    listed = requests.get(f"{base_url}/admin/indicator-models/farmland-area", headers=admin, timeout=60).json()
    assert [v["version"] for v in listed["versions"] if v["active"]] == [newest - 1]
    cli = subprocess.run([sys.executable, "-m", "onemap.cli", "indicators", "model", "activate", "farmland-area",
                          str(newest)], capture_output=True, text=True, env=env)
    assert cli.returncode == 0, cli.stderr
    assert db.execute("SELECT version FROM supervision.model_version WHERE model = 'farmland-area' AND active"
                      ).fetchone()[0] == newest
    missing = requests.post(f"{base_url}/admin/indicator-models/farmland-area/activate", json={"version": 999},
                            headers=admin, timeout=60)
    assert missing.status_code == 404 and "没有版本" in missing.json()["message_zh"]
    actions = [a for a, in db.execute("SELECT action FROM ops.audit WHERE target LIKE 'model/farmland-area/%%' "
                                      "ORDER BY id DESC LIMIT 2")]
    assert actions == ["indicators.model.activate", "indicators.model.rollback"]


def test_indicator_systems_are_catalogue_records_for_staff(ogc_url, tokens):
    systems = load_yaml(config_dir() / "indicators" / "systems.yaml")["systems"]
    for system in systems:
        url = f"{ogc_url}/collections/catalogue/items/cn.gov.yiyang.onemap.indicators.{system['id']}"
        assert requests.get(url, params={"f": "json"}, timeout=30).status_code == 404  # internal
        record = requests.get(url, params={"f": "json"}, headers=auth(tokens["staff"]), timeout=30)
        assert record.status_code == 200, record.text
        assert record.json()["properties"]["title"] == system["name"]["zh"]
        assert "OGC:API-Features ZBJC" in {link.get("title") for link in record.json()["links"]}
