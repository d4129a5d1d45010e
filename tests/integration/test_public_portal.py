"""The public portal /public/ and the staff's /moderation/ page in a real
headless Chromium (one session for the file): publications under notice on
the list and the map (an ended one absent), a comment with a script shown as
text after moderation, uploads refused with a bilingual message, a report
followed from its tracking number through triage, a comment flood limited,
and nothing internal reachable from the portal. The tests write the README's
screenshots of the public part into docs/screenshots/."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import psycopg
import pytest
import requests
from PIL import Image

from onemap.core.accounts import create_token
from onemap.core.errors import OneMapError
from onemap.core.registry import load_layers
from onemap.core.settings import ROOT, Settings
from onemap.styles.model import load_style, rgb
from processes.participation import comments
from processes.participation.publications import Publication, publish
from tests.conftest import auth
from tests.integration.browser import Browser, browser  # noqa: F401 (the fixture)
from tests.integration.parcels import Parcel, assert_colour, pixel_at, zoom_for

PASSWORD = "portal-Password-1"
SCREENSHOTS = ROOT / "docs" / "screenshots"
BACKGROUND = (0xF4, 0xF3, 0xEF)  # the portal map's background (portal.js)
CONTEXT = "XZQ"  # the boundaries the portal map always draws (portal.js)
READY = "return ['ready', 'error'].includes(document.body.dataset.state) && document.body.dataset.state"


# --- fixtures and helpers ----------------------------------------------------
@pytest.fixture(scope="module")
def staff(base_url, database_url) -> str:
    """A planning-staff account that signs in on the moderation page."""
    admin = auth(create_token(database_url, "admin", "pytest-portal-admin"))
    name = f"portal{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{base_url}/admin/users", headers=admin, timeout=30,
                      json={"name": name, "password": PASSWORD, "roles": ["staff"]})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture(scope="module", autouse=True)
def full_posting_buckets(db) -> None:
    """This client's posting buckets start full (a run before on the same
    database may have emptied them)."""
    db.execute("DELETE FROM ops.rate_bucket WHERE bucket LIKE '% comment %' OR bucket LIKE '% report %'")


@pytest.fixture(scope="module")
def current(db) -> list[tuple[str, str, list[str]]]:
    """(number, title, layers) of the publications under notice today, as the list orders them."""
    return db.execute("SELECT gsbh, gsmc, layers FROM supervision.publication "
                      "WHERE current_date BETWEEN ksrq AND jzrq ORDER BY ksrq DESC, gsbh").fetchall()


def _shot(page: Browser, name: str) -> bytes:
    png = page.screenshot()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / name).write_bytes(png)
    return png


def _open(page: Browser, url: str) -> None:
    page.open(url)
    assert page.until(READY) == "ready", page.run("return document.querySelector('#message').textContent")


def _message(page: Browser, kind: str) -> str:
    return page.until(f"const m = document.querySelector('#message');"
                      f"return !m.hidden && m.classList.contains('{kind}') && m.textContent")


def _select(page: Browser, gsbh: str) -> None:
    page.run("document.body.dataset.state = 'loading';"
             "document.querySelector(`#publications li[data-gsbh='${arguments[0]}']`).click()", gsbh)
    assert page.until(READY) == "ready"


def _fetch_status(page: Browser, url: str) -> int:
    """The status of a request the portal page makes (as its scripts would)."""
    return page.run("return fetch(arguments[0], {credentials: 'omit'}).then(r => r.status, e => String(e))", url)


def _sign_in(page: Browser, base_url: str, name: str) -> None:
    page.open(f"{base_url}/moderation/")
    state = "return document.body.dataset.state !== 'loading' && document.body.dataset.state"
    if page.until(state) == "signed-out":
        page.run("const f = document.querySelector('#login'); f.elements.name.value = arguments[0];"
                 "f.elements.password.value = arguments[1]; f.requestSubmit();", name, PASSWORD)
    assert page.until("return ['ready', 'forbidden', 'error'].includes(document.body.dataset.state)"
                      " && document.body.dataset.state") == "ready"


def _sign_out(page: Browser) -> None:
    page.run("document.querySelector('#logout').click()")
    page.until("return document.body.dataset.state === 'signed-out'")


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x0131] = "reporter-phone-model"
    exif[0x8825] = {1: "N", 2: (28.0, 33.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 60)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


# --- 公示 ----------------------------------------------------------------------
def test_publications_are_listed_and_mapped_and_an_ended_one_is_not(base_url, ogc_url, db, browser, current):  # noqa: F811
    ended = [r[0] for r in db.execute("SELECT gsbh FROM supervision.publication WHERE jzrq < current_date")]
    assert current and ended, "the demo city has publications under notice and one that ended"
    # a point of a notice area that none of its plan layers (nor a comment)
    # covers: there the map shows the notice fill over the background
    by_id = {layer.id: layer for layer in load_layers()}
    best = None
    for gsbh, _, layer_ids in current:
        cover = " UNION ALL ".join([f"SELECT geom FROM {by_id[i].table} WHERE ST_Intersects(geom, p.geom)"
                                    for i in layer_ids]
                           + ["SELECT ST_Buffer(geom, 0.01) FROM supervision.public_comment WHERE geom IS NOT NULL",
                              f"SELECT ST_Buffer(ST_Boundary(geom), 0.005) FROM {by_id[CONTEXT].table}"])
        row = db.execute(
            f"SELECT ST_X(c.center), ST_Y(c.center), c.radius FROM supervision.publication p, LATERAL "
            f"ST_MaximumInscribedCircle(ST_Difference(p.geom, coalesce((SELECT ST_Union(geom) FROM ({cover}) u), "
            f"'SRID=4490;POLYGON EMPTY'::geometry))) c WHERE p.gsbh = %s", (gsbh,)).fetchone()
        if best is None or row[2] > best.radius_deg:
            best = Parcel("GHGS", gsbh, *row)
    assert best is not None and best.radius_deg > 0
    _open(browser, f"{base_url}/public/#{zoom_for(best):.2f}/{best.lat:.6f}/{best.lon:.6f}")
    assert browser.run("return [...document.querySelectorAll('#publications li')].map(li => li.dataset.gsbh)") \
        == [r[0] for r in current]
    centre = browser.run("const r = document.querySelector('#map canvas').getBoundingClientRect();"
                         "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]")
    symbol = load_style("ghgs").rules[0].symbol
    expected = tuple(round(symbol.fill_opacity * f + (1 - symbol.fill_opacity) * b)
                     for f, b in zip(rgb(symbol.fill), BACKGROUND, strict=True))
    assert_colour(pixel_at(browser.screenshot(), *centre), expected, f"notice area of {best.code}")

    served = requests.get(f"{ogc_url}/collections/GHGS/items", params={"f": "json", "limit": 100}, timeout=30).json()
    assert sorted(f["properties"]["gsbh"] for f in served["features"]) == sorted(r[0] for r in current)
    gone = requests.get(f"{base_url}/public/api/publications/{ended[0]}", timeout=30)
    assert gone.status_code == 404 and gone.json()["field"] == "gsbh" and gone.json()["message_zh"]

    gsbh, title, layer_ids = max(current, key=lambda r: len(r[2]))  # the fullest map for the README
    _select(browser, gsbh)
    assert browser.run("return document.querySelector('#detail-title').textContent").startswith(title)
    documents = browser.run("return [...document.querySelectorAll('#documents a')].map(a => a.href)")
    assert len(documents) == len(layer_ids) and all(requests.get(d, timeout=30).ok for d in documents)
    _shot(browser, "portal-notices.png")


# --- 意见征询 and moderation -------------------------------------------------------
def test_a_comment_with_a_script_is_stored_and_shown_as_text_after_moderation(base_url, ogc_url, db, browser,  # noqa: F811
                                                                                current, staff):
    gsbh = current[0][0]
    marker = uuid.uuid4().hex[:8]
    body = f"<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\"> 建议保留绿地 {marker}"
    _open(browser, f"{base_url}/public/")
    _select(browser, gsbh)
    browser.click(*browser.run("const r = document.querySelector('#map canvas').getBoundingClientRect();"
                               "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]"))
    browser.run("const f = document.querySelector('#comment-form'); f.elements.body.value = arguments[0];"
                "f.elements.name.value = '张三'; f.elements.phone.value = '13800000000';"
                "f.elements.at_point.checked = true; f.requestSubmit();", body)
    _message(browser, "ok")
    (comment_id, stored, name, has_point), = db.execute(
        "SELECT id, yjnr, author_name, geom IS NOT NULL FROM supervision.public_comment WHERE yjnr LIKE %s",
        (f"%{marker}",)).fetchall()
    assert (stored, name, has_point) == (body, "张三", True)
    other = requests.post(f"{base_url}/public/api/publications/{gsbh}/comments", timeout=30,
                          json={"body": f"不予公开的意见 {marker}"})
    assert other.status_code == 201

    _sign_in(browser, base_url, staff)
    browser.until(f"return !!document.querySelector(\"#comments tr[data-id='{comment_id}']\")")
    _shot(browser, "moderation.png")  # the comments waiting
    for cid, action, reply in ((comment_id, "approve", f"已采纳 {marker}"), (other.json()["id"], "reject", "")):
        browser.run("const row = document.querySelector(`#comments tr[data-id='${arguments[0]}']`);"
                    "row.querySelector('input[name=reply]').value = arguments[2];"
                    "row.querySelector(`button[name=${arguments[1]}]`).click()", cid, action, reply)
        browser.until(f"const row = document.querySelector(\"#comments tr[data-id='{cid}']\"); return !row")
    steps = db.execute("SELECT target, detail->>'state' FROM ops.audit WHERE action = 'moderate-comment' "
                       "AND actor = %s ORDER BY id", (staff,)).fetchall()
    assert steps == [(f"/moderation/api/comments/{comment_id}", "approved"),
                     (f"/moderation/api/comments/{other.json()['id']}", "rejected")]

    _open(browser, f"{base_url}/public/")
    _select(browser, gsbh)
    shown = browser.run("return [...document.querySelectorAll('#comments li')].map(li => ["
                        "li.querySelector('.text').textContent, li.querySelector('.reply')?.textContent])")
    assert [body, f"答复 Reply: 已采纳 {marker}"] in shown
    assert not any(marker in text and "不予公开" in text for text, _ in shown)
    assert browser.run("return window.pwned === undefined && !document.querySelector('#comments script, #comments img')")
    page_text = browser.run("return document.body.textContent")
    public = requests.get(f"{base_url}/public/api/publications/{gsbh}", timeout=30).text \
        + requests.get(f"{ogc_url}/collections/GZYJ/items", params={"f": "json", "limit": 1000}, timeout=30).text
    assert marker in public and not any(secret in page_text + public for secret in ("张三", "13800000000"))
    browser.run("document.querySelector('#comments').scrollIntoView()")
    _shot(browser, "portal-comments.png")


# --- 公众监督 -------------------------------------------------------------------
def test_oversized_and_non_image_uploads_are_refused_with_a_bilingual_message(base_url, browser, tmp_path):  # noqa: F811
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff\xe0" + bytes(20 * 1024 * 1024))
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"%PDF-1.4\n% not a photo\n")
    _open(browser, f"{base_url}/public/")
    browser.run("document.querySelector(\"#tabs button[data-tab='report']\").click()")
    browser.click(*browser.run("const r = document.querySelector('#map canvas').getBoundingClientRect();"
                               "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]"))
    for path, zh, en in ((big, "照片过大", "too large"), (fake, "不是图片", "Not an image")):
        browser.run("document.querySelector('#report-form').elements.description.value = '夜间施工，疑似违法占地'")
        browser.upload("#report-form input[name=photos]", path)
        browser.run("document.querySelector('#message').hidden = true;"
                    "document.querySelector('#report-form').requestSubmit()")
        text = _message(browser, "error")
        assert zh in text and en in text and "photos[1]" in text
        assert text.index(zh) < text.index(en)  # Chinese first
    outside = requests.post(f"{base_url}/public/api/reports", data={"description": "海上", "lon": 0, "lat": 0},
                            timeout=30)
    assert outside.status_code == 400 and outside.json()["field"] == "location"


def test_a_report_is_tracked_by_its_number_through_triage(base_url, database_url, db, browser, staff, tmp_path):  # noqa: F811
    photo = tmp_path / "site.jpg"
    photo.write_bytes(_jpeg_with_gps())
    _open(browser, f"{base_url}/public/")
    browser.run("document.querySelector(\"#tabs button[data-tab='report']\").click()")
    browser.click(*browser.run("const r = document.querySelector('#map canvas').getBoundingClientRect();"
                               "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]"))
    marker = uuid.uuid4().hex[:8]
    browser.run("document.querySelector('#report-form').elements.description.value = arguments[0]",
                f"农田里新建厂房 {marker}")
    browser.upload("#report-form input[name=photos]", photo)
    browser.run("document.querySelector('#report-form').requestSubmit()")
    number = browser.until("const t = document.querySelector('#tracking'); return !t.hidden && "
                           "t.querySelector('code').textContent")
    _shot(browser, "portal-report.png")
    (report_id, photos), = db.execute("SELECT r.id, array_agg(p.content) FROM supervision.violation_report r "
                                      "JOIN supervision.violation_photo p ON p.report = r.id WHERE r.cxbh = %s "
                                      "GROUP BY r.id", (number,)).fetchall()
    stored = Image.open(io.BytesIO(bytes(photos[0])))
    assert len(photos) == 1 and not stored.getexif() and stored.size == (320, 240)
    assert b"reporter-phone-model" not in bytes(photos[0])

    _sign_in(browser, base_url, staff)
    for status, note in (("verifying", f"已派员核查 {marker}"), ("confirmed", f"确认违法占地，已立案 {marker}")):
        browser.run("const row = document.querySelector(`#reports tr[data-number='${arguments[0]}']`);"
                    "row.querySelector('input[name=note]').value = arguments[2];"
                    "row.querySelector(`button[name=${arguments[1]}]`).click()", number, status, note)
        browser.until(f"return document.querySelector(\"#reports tr[data-number='{number}']\")"
                      f"?.dataset.status === '{status}'")
    _shot(browser, "moderation-reports.png")
    audited = db.execute("SELECT detail->>'before', detail->>'status' FROM ops.audit WHERE action = 'triage-report' "
                         "AND target = %s ORDER BY id", (f"/moderation/api/reports/{report_id}",)).fetchall()
    assert audited == [("received", "verifying"), ("verifying", "confirmed")]
    wrong = requests.post(f"{base_url}/moderation/api/reports/{report_id}", json={"status": "received", "note": "x"},
                          headers=auth(create_token(database_url, "staff", "pytest-portal-staff")), timeout=30)
    assert wrong.status_code == 409 and wrong.json()["field"] == "status" and wrong.json()["message_zh"]

    _open(browser, f"{base_url}/public/")
    browser.run("document.querySelector(\"#tabs button[data-tab='track']\").click();"
                "const f = document.querySelector('#status-form'); f.elements.number.value = arguments[0];"
                "f.requestSubmit()", number)
    status = browser.until("const s = document.querySelector('#status'); return !s.hidden && "
                           "document.querySelector('#status-value').textContent")
    assert status == "已查实 confirmed"
    steps = browser.run("return [...document.querySelectorAll('#steps li')].map(li => li.dataset.status)")
    assert steps == ["received", "verifying", "confirmed"]
    assert f"已立案 {marker}" in browser.run("return document.querySelector('#steps').textContent")
    _shot(browser, "portal-tracking.png")


# --- abuse and what the public never sees ---------------------------------------------
def test_nothing_internal_is_reachable_from_the_portal(base_url, ogc_url, database_url, browser, layers):  # noqa: F811
    _open(browser, f"{base_url}/public/")
    internal = [layer for layer in layers if not layer.is_public]
    assert internal
    for layer in internal:
        for url in (f"{ogc_url}/collections/{layer.id}/items?f=json", f"{base_url}/styles/{layer.style}.json?layer={layer.id}",
                    f"{base_url}/mapproxy/service?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer.id}"
                    "&STYLES=&CRS=EPSG:4326&BBOX=28,111,29,112&WIDTH=64&HEIGHT=64&FORMAT=image/png"):
            assert _fetch_status(browser, url) == 401, url
    for path in ("moderation/api/comments", "moderation/api/reports", "moderation/api/reports/1/photos/1",
                 "moderation/api/publications"):
        assert _fetch_status(browser, f"{base_url}/{path}") == 401, path
    listed = {c["id"] for c in requests.get(f"{ogc_url}/collections", params={"f": "json"}, timeout=30).json()
              ["collections"]}
    assert {"GHGS", "GZYJ"} <= listed and not listed & {layer.id for layer in internal}
    public = requests.get(f"{base_url}/public/api/publications", timeout=30).text
    assert not any(f'"{layer.id}"' in public for layer in internal)
    assert "author" not in public and "phone" not in public
    # a publication can only be made of public layers
    with psycopg.connect(database_url) as conn, pytest.raises(OneMapError) as refused:
        publish(conn, Publication("GS-TEST-X", "测试", "test", dt.date.today(), dt.date.today(),
                                  {"type": "Polygon", "coordinates": [[[112, 28], [112.1, 28], [112, 28.1], [112, 28]]]},
                                  layers=("STBHHX",)), layers)
    assert refused.value.problem.field == "layers" and "STBHHX" in refused.value.problem.zh


def test_a_comment_flood_is_rate_limited(base_url, current):
    limit = Settings.from_env().gateway["participation"]["posting_rate"]
    statuses, refused = [], None
    for n in range(int(limit["burst"]) + 1):
        r = requests.post(f"{base_url}/public/api/publications/{current[-1][0]}/comments", timeout=30,
                          json={"body": f"刷屏 flood {n}"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            refused = r
            break
    assert refused is not None, statuses
    assert set(statuses[:-1]) <= {201} and len(statuses) - 1 <= limit["burst"]
    problem = refused.json()
    assert int(refused.headers["Retry-After"]) >= 1 and problem["field"] == "rate"
    assert "频繁" in problem["message_zh"] and "Too many" in problem["message_en"]


# --- 公开公示管理: staff write, publish and withdraw what the portal shows --------------
def test_staff_publish_a_publication_the_portal_shows_and_withdraw_it(base_url, database_url, db, browser,  # noqa: F811
                                                                      staff):
    gsbh = f"GS-PYTEST-{uuid.uuid4().hex[:6]}"
    today = dt.date.today()
    unit, unit_name = db.execute("SELECT xzqdm, xzqmc FROM base.xzq WHERE xzqjb = '县' ORDER BY xzqdm LIMIT 1").fetchone()
    listed = "return [...document.querySelectorAll('#publications li')].map(li => li.dataset.gsbh)"
    row = f"document.querySelector(\"#publications tr[data-gsbh='{gsbh}']\")"
    try:
        _sign_in(browser, base_url, staff)
        assert browser.run("return !document.querySelector('#publishing').hidden")
        browser.until("return document.querySelector('#publication-form').elements.xzqdm.options.length > 1")
        browser.run("const f = document.querySelector('#publication-form');"
                    "for (const [k, v] of Object.entries(arguments[0])) f.elements[k].value = v; f.requestSubmit()", {
                        "gsbh": gsbh, "gsmc": f"{unit_name}控制性详细规划（草案）公示", "gsmc_en": "Detailed plan (draft)",
                        "ksrq": today.isoformat(), "jzrq": (today + dt.timedelta(days=20)).isoformat(),
                        "xzqdm": unit, "layers": "GHYDYH",
                        "documents": "规划用地用海 | Planned land use | ogc/collections/GHYDYH"})
        assert browser.until(f"return {row}?.dataset.state") == "draft"
        # a draft: not for the public
        assert gsbh not in requests.get(f"{base_url}/public/api/publications", timeout=30).text
        browser.run(f"{row}.querySelector('button[name=edit]').click();"
                    "const f = document.querySelector('#publication-form');"
                    "f.elements.gsmc.value = arguments[0]; f.requestSubmit()", f"{unit_name}控制性详细规划公示")
        browser.until(f"return {row}?.cells[1].textContent.startsWith(arguments[0])", f"{unit_name}控制性详细规划公示")
        browser.run(f"{row}.querySelector('button[name=publish]').click()")
        assert browser.until(f"return {row}?.dataset.state === 'published' && {row}.dataset.state")
        _shot(browser, "moderation-publications.png")

        _sign_out(browser)
        _open(browser, f"{base_url}/public/")
        assert gsbh in browser.run(listed)
        _select(browser, gsbh)
        assert browser.run("return document.querySelector('#detail-title').textContent").startswith(
            f"{unit_name}控制性详细规划公示")
        notice = requests.get(f"{base_url}/ogc/collections/GHGS/items", params={"f": "json", "gsbh": gsbh},
                              timeout=30).json()["features"]
        assert [f["properties"]["gsbh"] for f in notice] == [gsbh]

        _sign_in(browser, base_url, staff)
        browser.run(f"{row}.querySelector('button[name=withdraw]').click()")
        browser.until(f"return {row}?.dataset.state === 'withdrawn'")
        # gone for everyone: the portal's list (what its page shows), its page and the collection
        assert gsbh not in requests.get(f"{base_url}/public/api/publications", timeout=30).text
        assert requests.get(f"{base_url}/public/api/publications/{gsbh}", timeout=30).status_code == 404
        assert not requests.get(f"{base_url}/ogc/collections/GHGS/items", params={"f": "json", "gsbh": gsbh},
                                timeout=30).json()["features"]

        steps = db.execute("SELECT action, actor FROM ops.audit WHERE target = %s AND action LIKE '%%-publication' "
                           "ORDER BY id",
                           (f"/moderation/api/publications/{gsbh}",)).fetchall()
        assert steps == [(action, staff) for action in ("create-publication", "edit-publication",
                                                        "publish-publication", "withdraw-publication")]
        # who may not: anonymous 401, a member of the public 403, bad data named
        url = f"{base_url}/moderation/api/publications/{gsbh}/publish"
        assert requests.post(url, timeout=30).status_code == 401
        public = auth(create_token(database_url, "public", "pytest-portal-public"))
        assert requests.post(url, headers=public, timeout=30).status_code == 403
        staff_token = auth(create_token(database_url, "staff", "pytest-portal-staff"))
        bad = requests.put(f"{base_url}/moderation/api/publications/{gsbh}", headers=staff_token, timeout=30,
                           json={"gsmc": "x", "gsmc_en": "x", "ksrq": "2026-13-01", "jzrq": "2026-01-01"})
        assert bad.status_code == 400 and bad.json()["field"] == "ksrq" and bad.json()["message_zh"]
    finally:
        db.execute("DELETE FROM supervision.publication WHERE gsbh = %s", (gsbh,))


def test_a_comment_pinned_outside_the_city_is_refused_and_not_stored(database_url, current):
    """The domain function the comment form calls (not over HTTP: the form's
    rate limit belongs to test_a_comment_flood_is_rate_limited)."""
    body = f"城外的意见 {uuid.uuid4().hex[:6]}"
    with psycopg.connect(database_url) as conn:
        with pytest.raises(OneMapError) as refused:
            comments.submit(conn, current[-1][0], {"body": body, "lon": 100.0, "lat": 20.0})
        conn.rollback()
        problem = refused.value.problem
        assert (problem.status, problem.field) == (400, "location")
        assert "本市范围" in problem.zh and "outside the city" in problem.en
        assert conn.execute("SELECT count(*) FROM supervision.public_comment WHERE yjnr = %s",
                            (body,)).fetchone()[0] == 0
        inside = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM base.xzq "
                              "WHERE xzqjb = '市') s").fetchone()
        made = comments.submit(conn, current[-1][0], {"body": body, "lon": inside[0], "lat": inside[1]})
        conn.rollback()  # accepted inside the city; not kept
    assert made["state"] == "pending"
