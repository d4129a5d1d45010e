"""The staff application at / (一张图应用) in a real headless Chromium, one
session for the module, driven as a planner would: sign in, the data
directory, basemaps, 规划回溯, 对比分析, 查询统计, 合规性检测, 专题制图 and
print, 成果共享, and a link that reproduces the view. Outcomes are checked
against what the services answer independently (process results, feature
counts), map pixels in the style colours, and the files the page saves
(read with pdftotext and pyogrio). Each view is saved to docs/screenshots/
for the README's guided tour.

A future plan version (the plan in force with one parcel of another class,
valid from 2031) is written for the module and removed after it: the plan
in force today stays as it is for the other tests."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pyogrio
import pytest
import requests
from pyproj import Geod

from onemap.core.accounts import create_token
from onemap.core.inforce import in_force
from onemap.core.registry import load_layers
from tests.conftest import auth
from tests.integration.browser import Browser, browser  # noqa: F401 (the fixture)
from tests.integration.parcels import Parcel, assert_colour, pixel_at, roomiest_parcel, zoom_for
from tests.integration.test_compliance import coordinate_file, site

PASSWORD = "staff-App-Password-1"
NEXT_VERSION, NEXT_FROM = "pytest-app-v2", "2031-01-01T00:00:00+08:00"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid to well under a millimetre


def _error(page: Browser) -> str | None:
    return page.run("const e = document.getElementById('error'); return e.hidden ? null : e.textContent")


def _ready(page: Browser) -> None:
    state = page.until("return document.body.dataset.state !== 'loading' && document.body.dataset.state")
    assert state == "ready", _error(page)


def _shot(page: Browser, name: str) -> bytes:
    png = page.screenshot()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"{name}.png").write_bytes(png)
    return png


def _hash(page: Browser) -> dict[str, str]:
    return dict(page.run("return [...new URLSearchParams(location.hash.slice(1))]"))


def _centre(page: Browser) -> tuple[int, int]:
    return tuple(page.run("const r = document.querySelector('#map canvas').getBoundingClientRect();"
                          "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]"))


@pytest.fixture(scope="module")
def staff_user(base_url, database_url) -> str:
    admin = auth(create_token(database_url, "admin", "pytest-staff-app-admin"))
    name = f"planner{uuid.uuid4().hex[:6]}"
    r = requests.post(f"{base_url}/admin/users", headers=admin, timeout=30,
                      json={"name": name, "password": PASSWORD, "roles": ["staff"]})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture(scope="module")
def parcel(db) -> Parcel:
    return roomiest_parcel(db, "GHYDYH", "plan.ghydyh", "ydyhdm", f"WHERE {in_force()} AND ydyhdm <> '1401'")


@pytest.fixture(scope="module")
def next_version(database_url, parcel) -> Iterator[tuple[str, str]]:
    """(the version in force, the next one): the next is the plan in force
    with the parcel under `parcel` of class 1401 (公园绿地), from 2031."""
    with psycopg.connect(database_url) as conn:
        current = conn.execute("SELECT plan_version FROM plan.plan_version WHERE valid_to IS NULL").fetchone()[0]
        conn.execute("INSERT INTO plan.plan_version (plan_version, title, valid_from, published_by) "
                     "VALUES (%s, '益阳市国土空间总体规划（测试修改）', %s, 'pytest')", (NEXT_VERSION, NEXT_FROM))
        conn.execute("""
            INSERT INTO plan.ghydyh (id, bsm, ydyhdm, ydyhmc, xzqdm, mj, plan_version, valid_from, geom)
            SELECT id + (SELECT max(id) FROM plan.ghydyh), bsm,
                   CASE WHEN ST_Intersects(geom, ST_SetSRID(ST_Point(%s, %s), 4490)) THEN '1401' ELSE ydyhdm END,
                   CASE WHEN ST_Intersects(geom, ST_SetSRID(ST_Point(%s, %s), 4490)) THEN '公园绿地' ELSE ydyhmc END,
                   xzqdm, mj, %s, %s, geom
            FROM plan.ghydyh WHERE plan_version = %s""",
                     (parcel.lon, parcel.lat, parcel.lon, parcel.lat, NEXT_VERSION, NEXT_FROM, current))
        for table in ("plan.ghydyh", "plan.plan_version"):
            conn.execute(f"UPDATE {table} SET valid_to = %s WHERE plan_version = %s", (NEXT_FROM, current))
    yield current, NEXT_VERSION
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM plan.ghydyh WHERE plan_version = %s", (NEXT_VERSION,))
        conn.execute("DELETE FROM plan.plan_version WHERE plan_version = %s", (NEXT_VERSION,))
        for table in ("plan.ghydyh", "plan.plan_version"):
            conn.execute(f"UPDATE {table} SET valid_to = NULL WHERE plan_version = %s", (current,))


@pytest.fixture(scope="module")
def page(browser: Browser) -> Browser:  # noqa: F811 (the fixture)
    return browser


@pytest.fixture(scope="module")
def staff(tokens) -> dict[str, str]:
    return auth(tokens["staff"])


def _pixel(page: Browser, what: str) -> tuple[int, int, int, int]:
    return pixel_at(page.screenshot(), *_centre(page))


def _at_parcel(base_url: str, parcel: Parcel, extra: str = "") -> str:
    return f"{base_url}/#map={zoom_for(parcel):.2f}/{parcel.lat:.6f}/{parcel.lon:.6f}{extra}"


def test_1_sign_in_brings_the_staff_tools_and_layers(base_url, page, staff_user, parcel):
    page.open(_at_parcel(base_url, parcel))
    _ready(page)
    assert page.run("return document.body.dataset.role") == "anonymous"
    hidden = page.run("return [...document.querySelectorAll('#tools button')].filter(b => b.hidden)"
                      ".map(b => b.dataset.tool)")
    assert hidden == ["history", "compare", "statistics", "compliance", "thematic"]
    public = {layer.id for layer in load_layers() if layer.is_public}
    listed = set(page.run("return [...document.querySelectorAll('#layers li[data-layer]')].map(li => li.dataset.layer)"))
    assert listed == public

    page.run("const f = document.querySelector('#login'); f.elements.name.value = arguments[0];"
             "f.elements.password.value = arguments[1]; f.requestSubmit();", staff_user, PASSWORD)
    page.until("return document.body.dataset.role === 'staff'")
    _ready(page)
    assert page.run("return document.querySelector('#me').textContent") == staff_user
    assert page.run("return [...document.querySelectorAll('#tools button')].filter(b => b.hidden).length") == 0
    # the moderation desk for staff, the accounts page for administrators only
    assert page.run("return document.querySelector('a[href=\"moderation/\"]').offsetParent !== null")
    assert page.run("return document.querySelector('a[href=\"admin/\"]').offsetParent === null")
    listed = set(page.run("return [...document.querySelectorAll('#layers li[data-layer]')].map(li => li.dataset.layer)"))
    assert listed == {layer.id for layer in load_layers()}
    _shot(page, "staff-signed-in")


def test_2_directory_tree_search_legend_opacity_order_basemap(base_url, page, parcel):
    # the tree: every layer under its data-directory classes, top → small
    for layer in load_layers():
        path = page.run("const li = document.querySelector(`#layers li[data-layer='${arguments[0]}']`);"
                        "const names = []; for (let d = li.closest('details'); d; d = d.parentElement.closest('details'))"
                        " names.unshift(d.querySelector('summary').firstChild.textContent.trim()); return names", layer.id)
        assert path == list(layer.directory), layer.id
    # the legend: the style's classes, in its colours
    legend = page.run("return [...document.querySelectorAll(\"li[data-layer='GHYDYH'] .legend li\")]"
                      ".map(li => li.textContent)")
    assert any(text.startswith("公园绿地") for text in legend)

    page.run("const s = document.querySelector('#search'); s.value = '地类'; s.dispatchEvent(new Event('input'))")
    assert page.run("return [...document.querySelectorAll('#layers li[data-layer]')].map(li => li.dataset.layer)") \
        == [layer.id for layer in load_layers() if "地类" in layer.title.zh]
    page.run("const s = document.querySelector('#search'); s.value = ''; s.dispatchEvent(new Event('input'))")

    # the other layers off (the current land use has the same colours), then GHYDYH faded out
    toggle_others = ("document.querySelectorAll(\"#layers input[type=checkbox]:not([data-layer='GHYDYH'])\")"
                     ".forEach(c => { c.checked = arguments[0]; c.dispatchEvent(new Event('change')); })")
    page.run(toggle_others, False)
    _ready(page)
    assert set(_hash(page)["hidden"].split(",")) == {layer.id for layer in load_layers()} - {"GHYDYH"}
    assert_colour(_pixel(page, "plan"), parcel.color, "GHYDYH before fading")
    page.run("const r = document.querySelector(\"li[data-layer='GHYDYH'] .opacity\"); r.value = 0;"
             "r.dispatchEvent(new Event('input'))")
    _ready(page)
    assert _hash(page)["opacity"] == "GHYDYH:0"
    faded = _pixel(page, "faded")
    assert max(abs(a - b) for a, b in zip(faded[:3], parcel.color, strict=True)) > 20, faded
    page.run("const r = document.querySelector(\"li[data-layer='GHYDYH'] .opacity\"); r.value = 100;"
             "r.dispatchEvent(new Event('input'))")
    _ready(page)  # the other layers stay off: the planned land use is what the next steps look at

    before = _hash(page)["layers"].split(",")
    page.run("document.querySelector(\"li[data-layer='GHYDYH'] .move[data-step='1']\").click()")
    _ready(page)
    after = _hash(page)["layers"].split(",")
    i = before.index("GHYDYH")
    assert after[i:i + 2] == [before[i + 1], "GHYDYH"]

    # basemaps: what /basemaps.json lists for this user; the city's base is drawn from our WMTS
    names = page.run("return [...document.querySelectorAll('#basemaps label')].map(l => l.dataset.basemap)")
    session = page.run("return document.cookie")  # HttpOnly: the session cookie is not readable by scripts
    assert "onemap_session" not in session
    assert names == [b["id"] for b in requests.get(f"{base_url}/basemaps.json", timeout=30).json()["basemaps"]]
    page.run("document.querySelector(\"#basemaps input[value='city']\").click()")
    _ready(page)
    assert _hash(page)["base"] == "city"
    assert page.run("return performance.getEntriesByType('resource').some(e => e.name.includes('/mapproxy/wmts/XZQ/'))")
    _shot(page, "staff-browse")
    page.run("document.querySelector(\"#basemaps input[value='blank']\").click()")
    _ready(page)


def test_3_time_slider_shows_the_plan_of_another_version(page, next_version, parcel, staff, ogc_url):
    page.run("document.querySelector(\"#tools button[data-tool='history']\").click()")
    versions = requests.post(f"{ogc_url}/processes/plan-history/execution", json={"inputs": {}}, headers=staff,
                             timeout=60).json()["versions"]
    index = [v["plan_version"] for v in versions].index(next_version[1])
    page.until("return document.querySelectorAll('#time-list li').length === arguments[0]", len(versions))
    page.run("const s = document.querySelector('#time'); s.value = arguments[0]; s.dispatchEvent(new Event('input'));"
             "s.dispatchEvent(new Event('change'))", index)
    _ready(page)
    assert _hash(page)["t"] == versions[index]["valid_from"]
    assert_colour(_pixel(page, "next"), Parcel.expected_color("GHYDYH", "1401"), "GHYDYH of the next version")
    _shot(page, "staff-history")
    page.run("const s = document.querySelector('#time'); s.value = s.max; s.dispatchEvent(new Event('change'))")
    _ready(page)
    assert "t" not in _hash(page)
    assert_colour(_pixel(page, "now"), parcel.color, "GHYDYH in force")


def _assert_compare_table(page: Browser, expected: dict) -> None:
    """The page's table of class changes is the layer-compare result's (m², ha, 亩)."""
    shown = page.run("return [...document.querySelectorAll('#compare-result tbody tr')].map(r => "
                     "[...r.cells].map(c => c.textContent))")
    changed = [r for r in expected["by_class"] if abs(r["change_m2"]) > 0.005]
    assert [row[0] for row in shown] == [r["code"] for r in changed]
    for row, r in zip(shown, changed, strict=True):
        assert float(row[4].replace(",", "")) == pytest.approx(r["change_m2"], abs=0.01)
        assert float(row[5].replace(",", "")) == pytest.approx(r["change_ha"], abs=1e-4)
        assert float(row[6].replace(",", "")) == pytest.approx(r["change_m2"] / (10000 / 15), abs=0.01)


def test_4_compare_versions_swipe_side_by_side_and_table(page, next_version, parcel, staff, ogc_url):
    current, following = next_version
    page.run("document.querySelector(\"#tools button[data-tool='compare']\").click()")
    page.until("return [...document.querySelector('#compare-form').elements.to.options].some(o => o.value === arguments[0])",
               following)
    page.run("const f = document.querySelector('#compare-form'); f.elements.from.value = arguments[0];"
             "f.elements.to.value = arguments[1]; f.requestSubmit()", current, following)
    page.until("return document.querySelector('#compare-result table')")
    _ready(page)
    expected = requests.post(f"{ogc_url}/processes/layer-compare/execution", headers=staff, timeout=120, json={
        "inputs": {"layer": "GHYDYH", "from_version": current, "to_version": following, "level": "县"}},
                             ).json()["comparison"]
    _assert_compare_table(page, expected)
    assert expected["changes"]["changed"] == 1
    assert _hash(page)["cmp"] == f"GHYDYH@{current}..{following}"

    # the swipe: left of the line the plan in force, right of it the next version (1401)
    for percent, code in ((100, parcel.code), (0, "1401")):
        page.run("const s = document.querySelector('#swipe'); s.value = arguments[0]; s.dispatchEvent(new Event('input'))",
                 percent)
        assert_colour(_pixel(page, "swipe"), Parcel.expected_color("GHYDYH", code), f"swipe at {percent}%")
    page.run("const s = document.querySelector('#swipe'); s.value = 50; s.dispatchEvent(new Event('input'))")
    # the changed parcel is outlined in magenta on both sides
    assert page.run("return document.querySelectorAll('#compare-result .summary').length") == 1
    _shot(page, "staff-compare-swipe")
    page.run("const c = document.querySelector('#side-by-side'); c.checked = true; c.dispatchEvent(new Event('change'))")
    widths = page.run("return ['#map', '#map2'].map(s => Math.round(document.querySelector(s).getBoundingClientRect().width))")
    assert abs(widths[0] - widths[1]) <= 1 and widths[0] < page.run("return innerWidth") * 0.6
    _shot(page, "staff-compare-side-by-side")
    page.run("const c = document.querySelector('#side-by-side'); c.checked = false; c.dispatchEvent(new Event('change'))")


def test_9_the_address_reproduces_the_comparison(base_url, page, next_version):
    link = page.run("return location.href")
    page.open("about:blank")
    page.open(link)
    page.until("return document.querySelector('#compare-result table')")
    _ready(page)
    assert page.run("return document.body.classList.contains('comparing')")
    assert _hash(page)["cmp"] == f"GHYDYH@{next_version[0]}..{next_version[1]}"
    page.run("document.querySelector('#compare-stop').click()")
    page.run("document.querySelector(\"#tools button[data-tool='browse']\").click()")
    _ready(page)
    assert "cmp" not in _hash(page)


def test_9b_compare_two_layers_of_a_township_table_and_the_pieces_of_another_class(page, db, staff, ogc_url):
    # the smallest township: the overlay of two whole layers is a benchmark's work, not a test's
    (unit,) = db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡' ORDER BY ST_Area(geom), xzqdm LIMIT 1").fetchone()
    page.run("document.querySelector(\"#tools button[data-tool='compare']\").click()")
    page.run("document.querySelector('#compare-form input[name=kind][value=layers]').click()")
    page.until("return [...document.querySelector('#compare-form').elements.from.options].some(o => o.value === 'DLTB')")
    page.run("const f = document.querySelector('#compare-form'); f.elements.from.value = 'DLTB';"
             "f.elements.to.value = 'GHYDYH'; f.elements.unit.value = arguments[0]; f.requestSubmit()", unit)
    page.until("return document.querySelector('#compare-result table')")
    _ready(page)
    assert _hash(page)["cmp"] == f"DLTB..GHYDYH~{unit}"
    expected = requests.post(f"{ogc_url}/processes/layer-compare/execution", headers=staff, timeout=120, json={
        "inputs": {"from_layer": "DLTB", "to_layer": "GHYDYH", "level": "县", "xzqdm": unit}}).json()["comparison"]
    _assert_compare_table(page, expected)
    # the pieces where current and planned use differ: on both maps' highlight source, each of two classes
    pieces = expected["changes"]["features"]
    assert pieces and all(f["code_from"] != f["code_to"] for f in pieces)
    for side in ("window.onemap.map", "window.onemap.secondMap()"):
        keys = page.run(f"return {side}.getSource('highlight').getData().then(d => d.features.map(f => f.properties.key))")
        assert keys == [f["key"] for f in pieces], side
    page.run("document.querySelector('#compare-stop').click()")
    page.run("document.querySelector(\"#tools button[data-tool='browse']\").click()")
    _ready(page)


def _lonlat(page: Browser, dx: int, dy: int) -> tuple[float, float]:
    """Where a point `dx`, `dy` CSS pixels from the map's centre is (Web
    Mercator, 512-pixel tiles as MapLibre's zoom counts them)."""
    zoom, lat, lon = (float(v) for v in _hash(page)["map"].split("/"))
    size = 512 * 2 ** zoom
    x = (lon + 180) / 360 * size + dx
    y = (1 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2 * size + dy
    return x / size * 360 - 180, math.degrees(2 * math.atan(math.exp(math.pi * (1 - 2 * y / size))) - math.pi / 2)


def test_5_statistics_table_csv_identify_and_measure(page, staff, ogc_url, parcel):
    page.run("document.querySelector(\"#tools button[data-tool='statistics']\").click()")
    x, y = _centre(page)
    corners = [(-60, -60), (60, -60), (60, 60), (-60, 60)]
    page.run("document.querySelector('#stats-draw').click()")
    for dx, dy in corners:
        page.click(x + dx, y + dy)
    page.run("document.querySelector('#draw-finish').click()")
    page.until("return document.querySelector('#stats-result table')")
    ring = [list(_lonlat(page, dx, dy)) for dx, dy in corners]
    boundary = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    expected = requests.post(f"{ogc_url}/processes/area-statistics/execution", headers=staff, timeout=120, json={
        "inputs": {"layer": "GHYDYH", "boundary": boundary, "level": "县"}}).json()["statistics"]
    rows = page.run("return [...document.querySelectorAll('#stats-result tbody tr')].map(r => "
                    "[...r.cells].map(c => c.textContent))")
    assert [r[0] for r in rows[:-1]] == [c["code"] for c in expected["by_class"]]
    assert parcel.code in [r[0] for r in rows]
    assert float(rows[-1][2].replace(",", "")) == pytest.approx(expected["total"]["area_m2"], rel=1e-4)
    assert float(rows[-1][4].replace(",", "")) == pytest.approx(expected["total"]["area_mu"], rel=1e-4)
    assert page.run("return document.querySelectorAll('#stats-result .chart .bar').length") == len(expected["by_class"])
    _shot(page, "staff-statistics")
    page.run("document.querySelector('#stats-csv').click()")
    lines = list(csv.reader(io.StringIO(page.downloaded(".csv").read_text(encoding="utf-8-sig"))))
    assert float(lines[-1][2]) == pytest.approx(expected["total"]["area_m2"], rel=1e-4)

    # identify: every attribute of the parcel under the click
    page.click(x, y)
    fields = page.until("const t = [...document.querySelectorAll('.maplibregl-popup-content table')]"
                        ".find(t => t.previousElementSibling.textContent.startsWith('规划用地用海'));"
                        "return t && Object.fromEntries([...t.rows].map(r => [r.cells[0].textContent, r.cells[1].textContent]))")
    assert fields["ydyhdm"] == parcel.code and {"bsm", "ydyhmc", "xzqdm", "mj"} <= set(fields)
    page.run("document.querySelector('.maplibregl-popup-close-button').click()")

    # measure: two clicks 200 px apart on a line of latitude, against pyproj's geodesic
    page.run("document.querySelector('#measure-line').click()")
    page.click(x - 100, y)
    page.click(x + 100, y)
    page.run("document.querySelector('#draw-finish').click()")
    shown = float(page.run("return document.querySelector('#measure').textContent").split()[0])
    expected_m = GEOD.inv(*_lonlat(page, -100, 0), *_lonlat(page, 100, 0))[2]
    assert shown == pytest.approx(expected_m, rel=1e-4)
    _shot(page, "staff-measure")


def test_6_compliance_check_of_an_uploaded_coordinate_file(page, db, staff, base_url, ogc_url, tmp_path):
    square, _, _ = site(db, ("07", "08", "09", "10", "11"), clear=False)
    text, _ = coordinate_file(square.centroid)
    upload = tmp_path / "界址点.txt"
    upload.write_bytes(text.encode("gbk"))
    case = f"KA-APP-{uuid.uuid4().hex[:6]}"
    earlier = requests.post(f"{ogc_url}/processes/compliance-check/upload", headers=staff, timeout=120,
                            files={"file": ("界址点.txt", upload.read_bytes(), "text/plain")},
                            data={"stage": "用地预审", "use_code": "1001", "case_id": case}).json()["result"]
    page.run("document.querySelector(\"#tools button[data-tool='compliance']\").click()")
    page.run("const f = document.querySelector('#compliance-form'); f.elements.case_id.value = arguments[0];"
             "f.elements.project_name.value = '测试项目'", case)
    page.upload("#compliance-file", str(upload))
    page.run("document.querySelector('#compliance-form').requestSubmit()")
    verdict = page.until("return document.querySelector('#verdict')?.dataset.verdict")
    assert verdict == earlier["verdict"]
    rules = page.run("return [...document.querySelectorAll('#findings tbody tr')].map(r => r.cells[0].textContent)")
    assert rules == [f["title"]["zh"] for f in earlier["findings"]]
    checks = page.run("return [...document.querySelectorAll('#case-checks tbody tr')].map(r => r.cells[0].textContent)")
    assert len(checks) == 2 and earlier["check_id"] in checks
    _shot(page, "staff-compliance")
    page.run("document.querySelector('#report-pdf').click()")
    report = subprocess.run(["pdftotext", str(page.downloaded(".pdf")), "-"], capture_output=True, text=True,
                            check=True).stdout
    assert "合规性检测" in report and case in report
    next(page.downloads.glob("*.pdf")).unlink()


def test_6b_compliance_check_of_a_drawn_boundary(page, db, staff, ogc_url):
    """A square drawn across the ecological red line: the verdict and findings
    of the same boundary run separately, the overlaps on the map, the report."""
    lon, lat = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1) p "
                          f"FROM plan.stbhhx WHERE {in_force()} ORDER BY ST_Area(geom) DESC LIMIT 1) s").fetchone()
    page.run("document.body.dataset.state = 'loading'; const m = window.onemap.map;"
             "m.jumpTo({center: [arguments[0], arguments[1]], zoom: 15});"
             "m.once('idle', () => { document.body.dataset.state = 'ready'; })", lon, lat)
    _ready(page)
    case = f"KA-DRAW-{uuid.uuid4().hex[:6]}"
    page.run("const f = document.querySelector('#compliance-form'); f.elements.case_id.value = arguments[0]", case)
    x, y = _centre(page)
    corners = [(-60, -60), (60, -60), (60, 60), (-60, 60)]
    page.run("document.querySelector('#compliance-draw').click()")
    for dx, dy in corners:
        page.click(x + dx, y + dy)
    page.run("document.querySelector('#compliance-finish').click();"
             "document.querySelector('#verdict')?.remove(); document.querySelector('#compliance-form').requestSubmit()")
    verdict = page.until("return document.querySelector('#verdict')?.dataset.verdict")
    ring = [list(_lonlat(page, dx, dy)) for dx, dy in corners]
    separate = requests.post(f"{ogc_url}/processes/compliance-check/execution", headers=staff, timeout=120, json={
        "inputs": {"boundary": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, "stage": "用地预审",
                   "use_code": "1001"}}).json()
    expected = separate["result"]
    assert verdict == expected["verdict"] == "禁止"
    rows = page.run("return [...document.querySelectorAll('#findings tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
    assert [r[0] for r in rows] == [f["title"]["zh"] for f in expected["findings"]]
    red = next(f for f in expected["findings"] if f["layer"] == "STBHHX")
    shown_m2 = next(float(r[3].replace(",", "")) for r in rows if r[0] == red["title"]["zh"])
    assert shown_m2 == pytest.approx(red["overlap_m2"], rel=1e-3)
    # the overlaps are on the map, drawn in sight
    assert page.run("return window.onemap.map.getSource('overlaps').getData().then(d => d.features.length)") \
        == len(separate["overlaps"]["features"]) > 0
    page.until("return window.onemap.map.queryRenderedFeatures({layers: ['highlight-overlaps']}).length")
    report = page.run("const a = document.querySelector('#report-pdf'); return fetch(a.href).then(async r => "
                      "[r.status, r.headers.get('Content-Type'), (await r.text()).slice(0, 5)])")
    assert report == [200, "application/pdf", "%PDF-"]


def test_7_thematic_map_and_pdf_print(page, staff, ogc_url):
    page.run("document.querySelector(\"#tools button[data-tool='thematic']\").click()")
    page.until("return document.querySelector('#thematic-form').elements.class.options.length")
    page.run("const f = document.querySelector('#thematic-form'); f.elements.class.value = '01';"
             "f.elements.title.value = '益阳市耕地分布专题图'; f.requestSubmit()")
    page.until("return !document.querySelector('#legend-box').hidden")
    _ready(page)
    assert page.run("return document.querySelector('#map-title').textContent") == "益阳市耕地分布专题图"
    assert 2 <= page.run("return document.querySelectorAll('#legend-box li').length") <= 5
    _shot(page, "staff-thematic")
    page.run("const f = document.querySelector('#print-form'); f.elements.paper.value = 'A3';"
             "f.elements.orientation.value = 'portrait'; f.requestSubmit()")
    pdf = page.downloaded(".pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "益阳市耕地分布专题图" in text and "图例" in text and "比例尺" in text and "北" in text
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    width, height = (float(v) for v in next(line for line in info.splitlines()
                                            if line.startswith("Page size")).split()[2:5:2])
    assert (round(width), round(height)) == (842, 1191)  # A3 portrait, points


def test_7b_choropleth_class_colours_in_the_legend_and_on_the_map(page, db):
    """The county of the largest value is in the top class: its fill, as
    MapLibre rendered it and as the screen shows it, is the legend's last colour."""
    top = page.run("return window.onemap.map.getSource('thematic').getData().then(d => d.features"
                   ".reduce((a, b) => (b.properties.value > a.properties.value ? b : a)).properties.xzqdm)")
    lon, lat = db.execute("SELECT ST_X(c.center), ST_Y(c.center) FROM base.xzq, LATERAL ST_MaximumInscribedCircle(geom) c "
                          "WHERE xzqdm = %s", (top,)).fetchone()
    x, y, feature, covered = page.run(
        "const m = window.onemap.map; const p = m.project([arguments[0], arguments[1]]);"
        "const r = m.getCanvas().getBoundingClientRect(); const x = Math.round(r.left + p.x), y = Math.round(r.top + p.y);"
        "const f = m.queryRenderedFeatures(p, {layers: ['thematic-fill']})[0];"
        "return [x, y, f && f.properties, document.elementFromPoint(x, y) !== m.getCanvas()]", lon, lat)
    assert feature["xzqdm"] == top
    swatches = page.run("return [...document.querySelectorAll('#legend-box .swatch')].map(s => s.style.background)")
    legend_top = tuple(int(v) for v in swatches[-1][4:-1].split(","))  # rgb(r, g, b)
    assert legend_top == tuple(int(feature["colour"][i:i + 2], 16) for i in (1, 3, 5))
    assert not covered, "the legend or a control covers the county's centre"
    assert_colour(pixel_at(page.screenshot(), x, y), legend_top, f"the fill of {top}")


def test_8_share_addresses_and_geopackage_of_the_visible_features(page, staff, base_url, ogc_url):
    page.run("document.querySelector(\"#tools button[data-tool='share']\").click()")
    page.run("const s = document.querySelector('#share-layer'); s.value = 'DZZHD'; s.dispatchEvent(new Event('change'))")
    addresses = dict(page.run("return [...document.querySelectorAll('#share-addresses dd')]"
                              ".map(d => [d.dataset.service, d.querySelector('input').value])"))
    assert set(addresses) == {"OGC API Features", "WMS", "WMTS", "CSW record"}
    for service, url in addresses.items():
        r = requests.get(url, headers=staff, timeout=60)
        assert r.status_code == 200, (service, url, r.text[:200])
    assert "DZZHD" in requests.get(addresses["CSW record"], timeout=60).text
    _shot(page, "staff-share")
    page.run("document.querySelector('#share-gpkg').click()")
    gpkg = page.downloaded(".gpkg")
    asked = page.run("return performance.getEntriesByType('resource').map(e => e.name)"
                     ".filter(u => u.includes('/download/DZZHD.gpkg')).at(-1)")
    bbox = parse_qs(urlsplit(asked).query)["bbox"][0]
    visible = requests.get(f"{ogc_url}/collections/DZZHD/items", headers=staff, timeout=60,
                           params={"f": "json", "bbox": bbox, "limit": 1}).json()["numberMatched"]
    assert visible > 0
    assert pyogrio.read_info(gpkg)["features"] == visible


def test_downloads_and_prints_within_rights_and_with_bilingual_errors(base_url, staff):
    box = {"bbox": "111.5,27.9,113.0,29.5"}
    anonymous = requests.get(f"{base_url}/download/DLTB.gpkg", params=box, timeout=60)
    assert anonymous.status_code == 401 and anonymous.json()["field"] == "Authorization"
    bad = requests.get(f"{base_url}/download/DLTB.gpkg", params={"bbox": "113,29,112,28"}, headers=staff, timeout=60)
    assert bad.status_code == 400 and bad.json()["field"] == "bbox" and "bbox" in bad.json()["message_zh"]
    assert requests.post(f"{base_url}/print/map.pdf", json={}, timeout=60).status_code == 401
    paper = requests.post(f"{base_url}/print/map.pdf", json={"paper": "B5"}, headers=staff, timeout=60)
    assert paper.status_code == 400 and paper.json()["field"] == "paper"
    image = requests.post(f"{base_url}/print/map.pdf", json={"image": "data:image/png;base64,AAAA"}, headers=staff,
                          timeout=60)
    assert image.status_code == 400 and image.json()["field"] == "image"
