"""The e-government portal's embedded case map (/embed/case/{case_id}) in a
real headless Chromium (one session for the file): with the SSO token of an
approval-system user it draws the case's boundary, its findings and the
control layers that role may read — the ecological red line, internal, is
absent, though an administrator's map of the same case has it; without a
valid token, or with a role that may not run checks, the page says why in
Chinese and English with the service's status.

Serial: it installs the test SSO keys (as test_sso does), which makes the
stack trust tokens signed by them while it runs."""

from __future__ import annotations

import uuid

import pytest
import requests
from shapely.geometry import box, mapping

from onemap.core.accounts import create_token
from onemap.core.inforce import in_force
from tests.conftest import auth
from tests.integration.browser import Browser, browser  # noqa: F401 (the fixture)
from tests.integration.test_sso import _claims, _sign, sso  # noqa: F401 (the fixture)

pytestmark = pytest.mark.serial
INTERNAL = "STBHHX"  # 生态保护红线: a control layer of the case map, internal


@pytest.fixture(scope="module")
def case(db, sso, ogc_url) -> tuple[str, str]:  # noqa: F811 (the fixture)
    """(case id, SSO token): a check run by an e-government user through
    SSO, of a square across a corner of the red line."""
    lon, lat = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1) p "
                          f"FROM plan.{INTERNAL.lower()} WHERE {in_force()} ORDER BY ST_Area(geom) DESC LIMIT 1) s"
                          ).fetchone()
    token = _sign(_claims(sso, sub=f"embed{uuid.uuid4().hex[:6]}", roles=["approval-system"]))
    case_id = f"YS-EMBED-{uuid.uuid4().hex[:6]}"
    r = requests.post(f"{ogc_url}/processes/compliance-check/execution", headers=auth(token), timeout=120, json={
        "inputs": {"boundary": mapping(box(lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001)), "stage": "用地预审",
                   "use_code": "1001", "case_id": case_id}})
    assert r.status_code == 200, r.text
    assert any(f["layer"] == INTERNAL and f["overlap_m2"] for f in r.json()["result"]["findings"])
    return case_id, token


def _layers(page: Browser) -> list[str]:
    return page.run("return window.onemap.map.getStyle().layers.map(l => l.id)")


def test_the_sso_user_sees_the_boundary_findings_and_the_layers_of_its_role(base_url, database_url, case, layers,
                                                                            browser):  # noqa: F811
    case_id, token = case
    data = requests.get(f"{base_url}/embed/case/{case_id}.json", headers=auth(token), timeout=60).json()
    admin = requests.get(f"{base_url}/embed/case/{case_id}.json", timeout=60,
                         headers=auth(create_token(database_url, "admin", "pytest-embed-admin"))).json()
    public = {layer.id for layer in layers if layer.is_public}
    assert INTERNAL in admin["layers"] and INTERNAL not in public  # the test can tell
    browser.open(f"{base_url}/embed/case/{case_id}#token={token}")
    assert browser.until("return document.body.dataset.state !== 'loading' && document.body.dataset.state") == "ready"
    drawn = _layers(browser)
    assert [x for x in drawn if x not in ("bg", "findings", "checks")] == data["layers"]
    assert data["layers"] and set(data["layers"]) <= public and INTERNAL not in drawn
    # one feature of the boundary and one finding drawn on the map
    check = browser.until("return window.onemap.map.queryRenderedFeatures({layers: ['checks']})[0]?.properties")
    assert check["check_id"] == data["checks"]["features"][0]["properties"]["check_id"]
    finding = browser.until("return window.onemap.map.queryRenderedFeatures({layers: ['findings']})[0]?.properties")
    assert finding["layer"] in public and finding["layer"] != INTERNAL
    assert {f["properties"]["layer"] for f in data["findings"]["features"]} <= public
    assert browser.run("return document.querySelector('#legend').textContent").startswith(f"案件 {case_id}")
    # the tiles come from our own WMTS with the token, none from elsewhere
    browser.until("return performance.getEntriesByType('resource').some(e => e.name.includes(arguments[0]))",
                  f"/mapproxy/wmts/{data['layers'][0]}/")
    assert all(url.startswith(base_url) for url in browser.run(
        "return performance.getEntriesByType('resource').map(e => e.name)"))


@pytest.mark.parametrize(("who", "status"), [("none", 401), ("forged", 401), ("public", 403)])
def test_without_a_valid_token_or_right_the_page_says_why_in_both_languages(base_url, database_url, case, who, status,
                                                                             browser):  # noqa: F811
    case_id, token = case
    head, claims, _ = token.split(".")
    given = {"none": "", "forged": f"{head}.{claims}.{'A' * 40}",
             "public": create_token(database_url, "public", "pytest-embed-public")}[who]
    browser.open("about:blank")
    browser.open(f"{base_url}/embed/case/{case_id}#token={given}")
    assert browser.until("return document.body.dataset.state !== 'loading' && document.body.dataset.state") == "error"
    assert browser.run("return document.body.dataset.status") == str(status)
    message = browser.run("return document.querySelector('#error').textContent")
    zh, en = message.split("\n")
    assert zh.startswith(str(status)) and any("\u4e00" <= c <= "\u9fff" for c in zh)
    assert en.strip() and not any("\u4e00" <= c <= "\u9fff" for c in en)
    assert not browser.run("return window.onemap.map.getStyle().layers.some(l => l.id === 'checks')")
