"""Plan versions: a publish killed half-way (the command, or the gateway
running the job) leaves the plan as it was; a
published version answers `datetime` for every plan layer; layer-compare
finds exactly the known differences; area-statistics adds up to the
ellipsoidal areas. The test puts the database back as it found it."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
import requests
import shapely
from pyproj import Geod

from onemap import stack
from onemap.core.inforce import in_force
from onemap.core.registry import load_layers
from onemap.core.settings import Settings
from tests import plan_packages as pp
from tests.conftest import auth
from tests.integration.parcels import Parcel, assert_colour, pixel_at, tile_of

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

# every versioned layer of the registry: a publish carries the layers its
# package lacks (the detailed plan KZXXGH, the special plans) into the new version
PLAN_LAYERS = {layer.id: layer.table for layer in load_layers() if layer.versioned}
NEW_VERSION, VALID_FROM = "pytest-v2", "2030-01-01T00:00:00+08:00"
GEOD = Geod(ellps="GRS80")


def area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


@pytest.fixture(scope="module")
def restore(database_url):
    """Undo what this module publishes, whatever happens."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        current = conn.execute("SELECT plan_version FROM plan.plan_version WHERE valid_to IS NULL").fetchone()[0]
    yield current
    with psycopg.connect(database_url) as conn:
        for table in PLAN_LAYERS.values():
            conn.execute(f"DELETE FROM {table} WHERE plan_version = %s", (NEW_VERSION,))
            conn.execute(f"UPDATE {table} SET valid_to = NULL WHERE plan_version = %s", (current,))
        conn.execute("DELETE FROM plan.plan_version WHERE plan_version = %s", (NEW_VERSION,))
        conn.execute("UPDATE plan.plan_version SET valid_to = NULL WHERE plan_version = %s", (current,))
        conn.execute("UPDATE plan.submission SET published_as = NULL WHERE published_as = %s", (NEW_VERSION,))


@pytest.fixture(scope="module")
def changed(plan_package, tmp_path_factory, restore):
    """The plan in force with known changes: three parcels of another class
    (not cropland, so farmland and indicators stay put), one parcel split
    in two. Returns the package, what was changed, and the change of the
    total area by the split (the halves measured on the ellipsoid gain the
    cut points on their edges, so they do not add up to the whole exactly)."""
    tmp = tmp_path_factory.mktemp("versions")
    layers = pp.read(plan_package)
    gh = layers["GHYDYH"]
    others = [i for i, r in enumerate(gh.rows) if r["YDYHDM"][:2] in ("07", "08", "09", "10", "12")]
    others.sort(key=lambda i: -area(gh.geoms[i]))  # large ones: a map pixel well inside each
    reclassed = {}
    for i in others[:3]:
        new_code, new_name = ("1401", "公园绿地") if gh.rows[i]["YDYHDM"] != "1401" else ("1402", "防护绿地")
        reclassed[gh.rows[i]["BSM"]] = (gh.rows[i]["YDYHDM"], new_code, area(gh.geoms[i]))
        gh.rows[i].update(YDYHDM=new_code, YDYHMC=new_name)
    k = others[3]
    whole = gh.geoms[k]
    x0, y0, x1, y1 = whole.bounds
    halves = [shapely.multipolygons(shapely.get_parts(shapely.intersection(whole, box)))
              for box in (shapely.box(x0 - 1, y0 - 1, (x0 + x1) / 2, y1 + 1),
                          shapely.box((x0 + x1) / 2, y0 - 1, x1 + 1, y1 + 1))]
    split_key = gh.rows[k]["BSM"]
    row = dict(gh.rows[k])
    del gh.rows[k], gh.geoms[k]
    for n, half in enumerate(halves, start=1):
        gh.append({**row, "BSM": f"{split_key}-{n}", "MJ": round(area(half), 2)}, half)
    split_delta = sum(area(h) for h in halves) - area(whole)
    return pp.write(tmp / "v2.gpkg", layers), reclassed, split_key, split_delta


def _items(ogc_url, token, layer, **params):
    r = requests.get(f"{ogc_url}/collections/{layer}/items", params={"f": "json", "limit": 1, **params},
                     headers=auth(token), timeout=60)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    return body["numberMatched"], body["features"][0]["properties"]["plan_version"]


def _counts(db, version):
    return {layer: db.execute(f"SELECT count(*) FROM {t} WHERE plan_version = %s", (version,)).fetchone()[0]
            for layer, t in PLAN_LAYERS.items()}


@pytest.fixture(scope="module")
def submission(ogc_url, tokens, changed):
    package = changed[0]
    r = requests.post(f"{ogc_url}/processes/plan-submit/execution", headers=auth(tokens["staff"]), timeout=600,
                      json={"inputs": {"title": "益阳市国土空间总体规划（修改）", "package": {
                          "value": base64.b64encode(package.read_bytes()).decode(), "encoding": "base64"}},
                            "outputs": {"summary": {}}})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["summary"]["passed"], r.json()["summary"]
    return r.json()["submission_id"]


@contextlib.contextmanager
def publish_blocked_half_way(database_url, db, alive):
    """Hold the last table a publish writes, yield once the publish waits for
    it (half-way through its transaction), and end the orphaned backend
    after the killing (the server would on its next write to the client).
    `alive()` says the publisher still runs: a hang guard."""
    blocker = psycopg.connect(database_url)
    blocker.execute("LOCK TABLE plan.lswhbhx IN ACCESS EXCLUSIVE MODE")
    waiting = []
    try:
        while not waiting:
            waiting = db.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND query ILIKE '%%plan.lswhbhx%%' OR (wait_event_type = 'Lock' AND "
                                 "query ILIKE '%%\"lswhbhx\"%%')").fetchall()
            assert waiting or alive(), "the publish ended before it reached the held table"
            time.sleep(0.2)
        yield
    finally:
        blocker.rollback()
        blocker.close()
    for (pid,) in waiting:
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))


def assert_nothing_published(db, ogc_url, submission, restore, before):
    assert db.execute("SELECT count(*) FROM plan.plan_version WHERE plan_version = %s",
                      (NEW_VERSION,)).fetchone()[0] == 0
    assert _counts(db, restore) == before and _counts(db, NEW_VERSION) == dict.fromkeys(PLAN_LAYERS, 0)
    assert db.execute("SELECT count(*) FROM plan.ghydyh WHERE valid_to IS NOT NULL AND plan_version = %s",
                      (restore,)).fetchone()[0] == 0
    assert _items(ogc_url, None, "GHYDYH") == (before["GHYDYH"], restore)
    assert db.execute("SELECT published_as FROM plan.submission WHERE id = %s", (submission,)).fetchone()[0] is None


def test_a_publish_killed_half_way_leaves_the_plan_in_force(database_url, db, ogc_url, tokens, submission,
                                                            restore):
    before = _counts(db, restore)
    env = {**os.environ, "DATABASE_URL": database_url}
    cli = subprocess.Popen([sys.executable, "-m", "onemap.cli", "plan", "publish", str(submission),
                            "--version", NEW_VERSION, "--valid-from", VALID_FROM, "--by", "pytest"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with publish_blocked_half_way(database_url, db, lambda: cli.poll() is None):
        assert _items(ogc_url, None, "GHYDYH")[1] == restore  # meanwhile readers see the plan in force
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
    assert_nothing_published(db, ogc_url, submission, restore, before)


def test_a_gateway_killed_during_a_publish_job_leaves_the_plan_in_force(database_url, db, ogc_url, tokens,
                                                                        submission, restore):
    """The whole gateway (master and workers) killed while its worker runs
    a publish job: restarted, the job is failed with the reason and the
    plan is as it was."""
    settings = Settings.from_env()
    before = _counts(db, restore)
    r = requests.post(f"{ogc_url}/processes/plan-publish/execution", timeout=60,
                      headers={**auth(tokens["admin"]), "Prefer": "respond-async"},
                      json={"inputs": {"submission_id": submission, "plan_version": NEW_VERSION,
                                       "valid_from": VALID_FROM}})
    assert r.status_code == 201, r.text[:500]
    job = r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    master = stack.gateway_pid(settings)
    assert master
    with publish_blocked_half_way(database_url, db, lambda: _job(ogc_url, tokens, job) in ("accepted", "running")):
        subprocess.run(["pkill", "-KILL", "-P", str(master)], check=True)  # the workers, then the master
        os.kill(master, signal.SIGKILL)
    deadline = time.monotonic() + 60  # a hang guard: killed processes go at once
    while stack.gateway_pid(settings) or stack.port_in_use(settings.host, settings.port):
        assert time.monotonic() < deadline, "the killed gateway is still there"
        time.sleep(0.2)
    stack.start_gateway(settings, database_url, print, timeout=600)  # a hang guard
    assert _job(ogc_url, tokens, job) == "failed"
    assert_nothing_published(db, ogc_url, submission, restore, before)


def _job(ogc_url, tokens, job) -> str:
    r = requests.get(f"{ogc_url}/jobs/{job}", params={"f": "json"}, headers=auth(tokens["admin"]), timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r.json()["status"]


def test_publish_then_datetime_answers_both_versions_for_every_plan_layer(db, ogc_url, tokens, submission,
                                                                          restore):
    old = _counts(db, restore)
    r = requests.post(f"{ogc_url}/processes/plan-publish/execution", headers=auth(tokens["admin"]), timeout=600,
                      json={"inputs": {"submission_id": submission, "plan_version": NEW_VERSION,
                                       "valid_from": VALID_FROM}})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["version"]["previous"] == restore
    new = _counts(db, NEW_VERSION)
    assert new["GHYDYH"] == old["GHYDYH"] + 1  # one parcel split in two
    for layer in (name for name in PLAN_LAYERS if old[name]):  # not the kinds the demo has no data of
        assert _items(ogc_url, tokens["staff"], layer, datetime="2029-12-31T00:00:00+08:00") == (old[layer], restore)
        assert _items(ogc_url, tokens["staff"], layer, datetime="2030-01-02T00:00:00+08:00") == (new[layer],
                                                                                                NEW_VERSION)
        # 2030 has not come: without datetime the layer is still the plan in force today
        assert _items(ogc_url, tokens["staff"], layer) == (old[layer], restore)
    # ... and the compliance check judges against the same plan as the map shows
    x, y = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM plan.ghydyh "
                      f"WHERE {in_force()} ORDER BY id LIMIT 1) s").fetchone()
    d = 0.0005
    check = requests.post(f"{ogc_url}/processes/compliance-check/execution", headers=auth(tokens["staff"]),
                          timeout=300, json={"inputs": {"boundary": {"type": "Polygon", "coordinates": [[
                              [x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]]},
                              "stage": "用地预审", "use_code": "1001"}, "outputs": {"result": {}}})
    assert check.status_code == 200, check.text[:500]
    assert [v["plan_version"] for v in check.json()["data_versions"]["plan_versions_in_force"]] == [restore]
    history = requests.post(f"{ogc_url}/processes/plan-history/execution", json={"inputs": {}},
                            headers=auth(tokens["staff"]), timeout=60).json()["versions"]
    by_name = {v["plan_version"]: v for v in history}
    assert by_name[restore]["valid_to"] is not None and by_name[restore]["in_force"]
    assert not by_name[NEW_VERSION]["in_force"]
    assert by_name[NEW_VERSION]["published_by"] == "pytest-admin"
    again = requests.post(f"{ogc_url}/processes/plan-publish/execution", headers=auth(tokens["admin"]),
                          timeout=600, json={"inputs": {"submission_id": submission, "plan_version": "x",
                                                        "valid_from": VALID_FROM}})
    assert again.status_code == 409 and again.json()["message_zh"]


def test_layer_compare_finds_the_known_differences(ogc_url, tokens, changed, restore):
    _, reclassed, split_key, split_delta = changed
    r = requests.post(f"{ogc_url}/processes/layer-compare/execution", headers=auth(tokens["staff"]), timeout=600,
                      json={"inputs": {"from_version": restore, "to_version": NEW_VERSION}})
    assert r.status_code == 200, r.text[:500]
    result = r.json()["comparison"]
    changes = result["changes"]
    assert (changes["added"], changes["removed"], changes["changed_class"]) == (2, 1, 3)
    listed = {(f["key"], f["change"]) for f in changes["features"]}
    assert listed == ({(k, "class") for k in reclassed} | {(split_key, "removed")}
                      | {(f"{split_key}-1", "added"), (f"{split_key}-2", "added")})
    expected: dict[str, float] = {}
    for old_code, new_code, a in reclassed.values():
        # by class of level 2 (the default): a level-3 code counts for its parent
        expected[old_code[:4]] = expected.get(old_code[:4], 0) - a
        expected[new_code[:4]] = expected.get(new_code[:4], 0) + a
    got = {row["code"]: row["change_m2"] for row in result["by_class"]}
    # PostGIS's spheroidal area and pyproj's (Karney) differ by about 1e-6
    # of a parcel of a few km²
    for code, value in expected.items():
        assert got[code] == pytest.approx(value, rel=1e-5, abs=0.5), code
    assert sum(row["change_m2"] for row in result["by_unit"]) == pytest.approx(split_delta, abs=1.0)


def test_area_statistics_totals_are_the_ellipsoidal_areas(ogc_url, tokens, db, restore):
    def stats(**inputs):
        r = requests.post(f"{ogc_url}/processes/area-statistics/execution", headers=auth(tokens["staff"]),
                          timeout=600, json={"inputs": inputs})
        assert r.status_code == 200, r.text[:500]
        return r.json()["statistics"]

    whole = stats(layer="GHYDYH", version=restore)
    expected = db.execute("SELECT sum(ST_Area(geom::geography)) FROM plan.ghydyh WHERE plan_version = %s",
                          (restore,)).fetchone()[0]
    assert whole["total"]["area_m2"] == pytest.approx(expected, rel=1e-7)
    assert sum(r["area_m2"] for r in whole["by_class"]) == pytest.approx(expected, rel=1e-7)
    county = db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '县' ORDER BY xzqdm LIMIT 1").fetchone()[0]
    box = db.execute("SELECT ST_AsGeoJSON(ST_Expand(ST_Centroid(geom), 0.05))::json FROM base.xzq "
                     "WHERE xzqdm = %s", (county,)).fetchone()[0]
    drawn = stats(layer="GHYDYH", xzqdm=county, boundary=box, class_level=1)
    expected = db.execute(f"""
        SELECT sum(ST_Area(ST_Intersection(g.geom, ST_Intersection(x.geom, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490)))
                   ::geography))
        FROM plan.ghydyh g, base.xzq x WHERE x.xzqdm = %s AND {in_force(alias='g')} AND g.geom && x.geom""",
                          (str(box).replace("'", '"'), county)).fetchone()[0]
    assert drawn["total"]["area_m2"] == pytest.approx(expected, rel=1e-6)
    assert all(len(r["code"]) == 2 for r in drawn["by_class"])
    bad = requests.post(f"{ogc_url}/processes/area-statistics/execution", headers=auth(tokens["staff"]),
                        timeout=60, json={"inputs": {"boundary": {"type": "LineString",
                                                                   "coordinates": [[112, 28], [113, 29]]}}})
    assert bad.status_code == 400 and bad.json()["field"] == "boundary"


def test_cached_map_tiles_change_on_the_day_a_version_takes_effect(base_url, db, database_url, changed, restore):
    """A future-dated version changes the cached WMTS tiles on its own day,
    with nothing run then: the day is brought forward in the database."""
    _, reclassed, _, _ = changed
    circles = {bsm: db.execute("SELECT ST_X(c.center), ST_Y(c.center), c.radius FROM plan.ghydyh g, "
                               "LATERAL ST_MaximumInscribedCircle(g.geom) c WHERE g.plan_version = %s "
                               "AND g.bsm = %s", (NEW_VERSION, bsm)).fetchone() for bsm in reclassed}
    bsm = max(circles, key=lambda key: circles[key][2])
    old_code, new_code, _ = reclassed[bsm]
    parcel = Parcel("GHYDYH", new_code, *circles[bsm])
    z, col, row, px, py = tile_of(parcel, "WebMercatorQuad")
    url = f"{base_url}/mapproxy/wmts/GHYDYH/WebMercatorQuad/{z}/{col}/{row}.png"

    def tile() -> bytes:
        r = requests.get(url, timeout=60)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
        return r.content

    today = Parcel.expected_color("GHYDYH", old_code)
    assert_colour(pixel_at(tile(), px, py), today, f"the plan in force, {old_code}")
    assert_colour(pixel_at(tile(), px, py), today, "the same tile from the cache")
    with psycopg.connect(database_url) as conn:  # one transaction
        for table in ("plan.plan_version", *PLAN_LAYERS.values()):
            conn.execute(f"UPDATE {table} SET valid_from = now() WHERE valid_from = %s", (VALID_FROM,))
            conn.execute(f"UPDATE {table} SET valid_to = now() WHERE valid_to = %s", (VALID_FROM,))
    deadline = time.monotonic() + 600  # a hang guard: the change shows on the next check
    while time.monotonic() < deadline:
        pixel = pixel_at(tile(), px, py)
        if pixel[:3] != today:
            break
        time.sleep(0.5)
    assert_colour(pixel, parcel.color, f"the version in force from today, {new_code}")

