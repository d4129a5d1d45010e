"""The admin page /admin/ in a real headless Chromium: an administrator signs
in with the form (a session cookie), sees the users, creates a role and a
token through the page (its calls carry the CSRF token), and signs out; a
role made on the page with the moderation right only (公众参与) moderates a
comment on /moderation/, and a role without it is refused."""

from __future__ import annotations

import uuid

import pytest
import requests

from onemap.core.accounts import create_token
from onemap.core.settings import ROOT
from processes.participation import comments
from tests.conftest import auth
from tests.integration.browser import Browser, browser  # noqa: F401 (the fixture)

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

PASSWORD = "page-Password-1"
RELOAD_S = 600  # a hang guard: after a configuration change the gateway's workers load it again
SCREENSHOTS = ROOT / "docs" / "screenshots"
MODERATION_STATE = ("return ['ready', 'forbidden', 'error', 'signed-out'].includes(document.body.dataset.state)"
                    " && document.body.dataset.state")


def _shot(page: Browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / name).write_bytes(page.screenshot())


def test_an_administrator_manages_roles_and_tokens_on_the_page(base_url, ogc_url, database_url, browser):  # noqa: F811
    admin = auth(create_token(database_url, "admin", "pytest-page-admin"))
    name = f"page{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=30,
                         json={"name": name, "password": PASSWORD, "roles": ["admin"]}).status_code == 201
    browser.open(f"{base_url}/admin/")
    assert browser.until("return document.body.dataset.state !== 'loading' && document.body.dataset.state") \
        == "signed-out"
    browser.run("const f = document.querySelector('#login'); f.elements.name.value = arguments[0];"
                "f.elements.password.value = arguments[1]; f.requestSubmit();", name, PASSWORD)
    assert browser.until("return ['ready', 'error', 'forbidden'].includes(document.body.dataset.state)"
                         " && document.body.dataset.state") == "ready"
    assert browser.run("return !!document.querySelector(`#users tr[data-name='${arguments[0]}']`)", name)

    role = f"page-{uuid.uuid4().hex[:6]}"
    browser.run("const f = document.querySelector('#role-form');"
                "f.elements.name.value = arguments[0]; f.elements.zh.value = '页面角色'; f.elements.en.value = 'page role';"
                "f.querySelector(\"input[name=layers][value='STBHHX']\").checked = true;"
                "f.querySelector(\"input[name=reads][value='public']\").checked = true;"
                "f.requestSubmit(f.elements.create);", role)
    browser.until(f"return !!document.querySelector(\"#roles tr[data-name='{role}']\")")
    stored = {r["name"]: r for r in requests.get(f"{base_url}/admin/roles", headers=admin, timeout=30).json()}
    assert stored[role]["layers"] == ["STBHHX"] and stored[role]["reads"] == ["public"]

    browser.run("const f = document.querySelector('#token-form'); f.elements.account.value = arguments[0];"
                "f.elements.name.value = 'from-the-page'; f.requestSubmit();", name)
    token = browser.until("const p = document.querySelector('#new-token');"
                          "return !p.hidden && p.querySelector('code').textContent")
    assert requests.get(f"{ogc_url}/collections/STBHHX/items", params={"f": "json", "limit": 1},
                        headers=auth(token), timeout=30).status_code == 200

    browser.run("document.querySelector('#logout').click()")
    assert browser.until("return document.body.dataset.state === 'signed-out'")


def _sign_in(page: Browser, base_url: str, name: str) -> str:
    page.open(f"{base_url}/admin/")
    if page.until("return document.body.dataset.state !== 'loading' && document.body.dataset.state") != "signed-out":
        page.run("document.querySelector('#logout').click()")  # a test before ended signed in
        page.until("return document.body.dataset.state === 'signed-out'")
    page.run("const f = document.querySelector('#login'); f.elements.name.value = arguments[0];"
             "f.elements.password.value = arguments[1]; f.requestSubmit();", name, PASSWORD)
    return page.until("return ['ready', 'error', 'forbidden'].includes(document.body.dataset.state)"
                      " && document.body.dataset.state")


def _message_after(page: Browser, script: str, *args: object) -> tuple[str, str]:
    """Run a user action and wait for the message line it leads to: (class, text)."""
    page.run("document.querySelector('#message').hidden = true;" + script, *args)
    return tuple(page.until("const m = document.querySelector('#message');"
                            "return !m.hidden && m.textContent && [m.className, m.textContent]"))


def _visible_sections(page: Browser) -> list[str]:
    return page.run("return [...document.querySelectorAll('section[data-function]')]"
                    ".filter(s => !s.hidden).map(s => s.dataset.function)")


def test_an_operator_changes_configuration_reads_audit_and_logs_and_backs_up(base_url, database_url, browser):  # noqa: F811
    admin = auth(create_token(database_url, "admin", "pytest-page-ops"))
    name = f"ops{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=RELOAD_S,
                         json={"name": name, "password": PASSWORD, "roles": ["admin"]}).status_code == 201
    assert _sign_in(browser, base_url, name) == "ready"
    assert set(_visible_sections(browser)) == {"accounts", "config", "audit", "logs", "backup"}

    # configuration: a broken file is refused with the server's message, a good one is a new version
    path = "upper-plan-targets.yaml"
    original = requests.get(f"{base_url}/admin/config/files/{path}", headers=admin, timeout=RELOAD_S).text
    versions = requests.get(f"{base_url}/admin/config/versions/{path}", headers=admin, timeout=RELOAD_S).json()["versions"]
    browser.run("document.querySelector(`#config-files tr[data-key='${arguments[0]}'] button`).click()", path)
    browser.until("return document.querySelector('#config-form textarea').value.length > 0")
    assert browser.run("return document.querySelector('#config-form textarea').value") == original
    kind, refused = _message_after(browser, "const f = document.querySelector('#config-form');"
                                   "f.elements.content.value = 'targets: ['; f.elements.comment.value = 'broken';"
                                   "f.requestSubmit();")
    assert kind == "error" and "YAML" in refused and "/" in refused, refused  # Chinese / English
    assert requests.get(f"{base_url}/admin/config/files/{path}", headers=admin, timeout=RELOAD_S).text == original

    edited = original + "\n# 页面修改 changed on the admin page\n"
    kind, text = _message_after(browser, "const f = document.querySelector('#config-form');"
                                "f.elements.content.value = arguments[0]; f.elements.comment.value = 'page edit';"
                                "f.requestSubmit();", edited)
    assert kind == "ok", text
    assert requests.get(f"{base_url}/admin/config/files/{path}", headers=admin, timeout=RELOAD_S).text == edited
    history = requests.get(f"{base_url}/admin/config/versions/{path}", headers=admin, timeout=RELOAD_S).json()["versions"]
    assert len(history) == len(versions) + (2 if not versions else 1)  # the first change also stores the original
    # each version is listed with its rollback button (rolling back is the API's, tested in test_config_management;
    # the edit is a comment, so it stays: every change reloads the gateway's workers)
    listed = browser.run("return [...document.querySelectorAll('#config-versions tbody tr')]"
                         ".map(r => [r.dataset.key, !!r.querySelector('button')])")
    assert listed == [[str(v["version"]), True] for v in history]

    # the audit trail shows the page's changes, and its CSV link carries the same rows
    browser.run("document.querySelector('#audit tbody').replaceChildren();"  # the unfiltered rows shown at start
                "const f = document.querySelector('#audit-form'); f.elements.actor.value = arguments[0];"
                "f.elements.target.value = arguments[1]; f.requestSubmit();", name, path)
    actions = browser.until("const rows = [...document.querySelectorAll('#audit tbody tr')];"
                            "return rows.length > 0 && rows.map(r => r.cells[3].textContent)")
    assert actions == ["config.change"]  # the edit, not the refused one
    csv_text = browser.run("return fetch(document.querySelector('#audit-csv').href).then(r => r.text())")
    assert csv_text.count(",config.change,") == len(actions)

    # recent log lines from a level up: the refused change above was logged as a warning
    browser.run("document.querySelector('#logs tbody').replaceChildren();"
                "const f = document.querySelector('#log-form'); f.elements.level.value = 'WARNING'; f.requestSubmit();")
    rows = browser.until("const rows = [...document.querySelectorAll('#logs tbody tr')];"
                         "return rows.length > 0 && rows.map(r => [r.cells[1].textContent, r.cells[5].textContent])")
    assert {level for level, _ in rows} <= {"WARNING", "ERROR", "CRITICAL"}
    assert any(f"PUT /admin/config/files/{path} 400" in message for _, message in rows)

    # a backup made from the page is listed with its tables
    count = browser.run("return document.querySelectorAll('#backups tbody tr').length")
    kind, text = _message_after(browser, "document.querySelector('#backup-form').requestSubmit()")
    assert kind == "ok", text
    assert browser.run("return document.querySelectorAll('#backups tbody tr').length") == count + 1
    listed = requests.get(f"{base_url}/admin/backups", headers=admin, timeout=RELOAD_S).json()["backups"][0]
    assert browser.run("return document.querySelector('#backups tbody tr').dataset.key") == listed["name"]
    assert listed["tables"] > 0 and listed["rows"] > 0
    browser.run("document.querySelector('#logout').click()")
    browser.until("return document.body.dataset.state === 'signed-out'")


def test_an_auditor_sees_the_audit_section_only(base_url, database_url, browser):  # noqa: F811
    admin = auth(create_token(database_url, "admin", "pytest-page-auditor"))
    role, name = f"auditor-{uuid.uuid4().hex[:6]}", f"aud{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base_url}/admin/roles", headers=admin, timeout=RELOAD_S, json={
        "name": role, "zh": "审计员", "en": "auditor", "reads": ["public"], "administers": ["audit"]}).status_code == 201
    assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=RELOAD_S,
                         json={"name": name, "password": PASSWORD, "roles": [role]}).status_code == 201
    assert _sign_in(browser, base_url, name) == "ready"
    assert _visible_sections(browser) == ["audit"]
    # and the API refuses the session what the page hides
    statuses = browser.run("return Promise.all(['../admin/users', '../admin/logs', '../admin/backups', '../admin/audit']"
                           ".map(p => fetch(new URL(p, location.href)).then(r => r.status)))")
    assert statuses == [403, 403, 403, 200]
    browser.run("document.querySelector('#logout').click()")
    browser.until("return document.body.dataset.state === 'signed-out'")


def _moderation_page(page: Browser, base_url: str, name: str) -> str:
    """Sign in on /moderation/ as `name`: the page's state after it."""
    page.open(f"{base_url}/moderation/")
    if page.until(MODERATION_STATE) != "signed-out":
        page.run("document.querySelector('#logout').click()")
        page.until("return document.body.dataset.state === 'signed-out'")
    page.run("const f = document.querySelector('#login'); f.elements.name.value = arguments[0];"
             "f.elements.password.value = arguments[1]; f.requestSubmit();", name, PASSWORD)
    return page.until("return ['ready', 'forbidden', 'error'].includes(document.body.dataset.state)"
                      " && document.body.dataset.state")


def _shown_sections(page: Browser) -> list[str]:
    return page.run("return ['moderation', 'triage', 'publishing'].filter(id => !document.getElementById(id).hidden)")


def test_a_role_given_the_moderation_right_on_the_page_moderates_and_others_are_refused(
        base_url, database_url, db, browser):  # noqa: F811
    admin = auth(create_token(database_url, "admin", "pytest-page-participation"))
    operator, moderator, outsider = (f"{kind}{uuid.uuid4().hex[:8]}" for kind in ("op", "mod", "out"))
    for name, roles in ((operator, ["admin"]), (outsider, ["public"])):
        assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=RELOAD_S,
                             json={"name": name, "password": PASSWORD, "roles": roles}).status_code == 201

    # the operator grants the right on the role form: nothing else ticked
    assert _sign_in(browser, base_url, operator) == "ready"
    offered = browser.run("return [...document.querySelectorAll('#role-choices input[name=participation]')]"
                          ".map(i => [i.value, i.parentElement.textContent.trim()])")
    assert [value for value, _ in offered] == ["moderate", "triage", "publish"]
    assert all(label.startswith(("审核", "处理", "管理")) for _, label in offered), offered  # Chinese first
    role = f"moderator-{uuid.uuid4().hex[:6]}"
    browser.run("const f = document.querySelector('#role-form'); f.reset();"
                "f.elements.name.value = arguments[0]; f.elements.zh.value = '意见审核员'; f.elements.en.value = 'moderator';"
                "f.querySelector(\"input[name=participation][value='moderate']\").checked = true;"
                "f.requestSubmit(f.elements.create);", role)
    row = browser.until(f"const r = document.querySelector(\"#roles tr[data-name='{role}']\");"
                        "return r && [...r.cells].map(c => c.textContent)")
    assert row[7] == "moderate", row  # the table's participation column
    browser.run("document.querySelector('#role-choices fieldset[data-key=participation]')"
                ".scrollIntoView({block: 'end'})")
    _shot(browser, "admin-role-participation.png")
    stored = {r["name"]: r for r in requests.get(f"{base_url}/admin/roles", headers=admin, timeout=RELOAD_S).json()}
    assert stored[role]["participation"] == ["moderate"]
    assert (stored[role]["reads"], stored[role]["runs"], stored[role]["administers"]) == ([], [], [])
    for builtin in ("staff", "admin"):  # the built-in roles keep what they had
        assert stored[builtin]["participation"] == ["moderate", "publish", "triage"]
    assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=RELOAD_S,
                         json={"name": moderator, "password": PASSWORD, "roles": [role]}).status_code == 201
    browser.run("document.querySelector('#logout').click()")
    browser.until("return document.body.dataset.state === 'signed-out'")

    # a citizen's comment waits; the moderator approves it on /moderation/ and sees nothing else there
    gsbh = db.execute("SELECT gsbh FROM supervision.publication WHERE zt = 'published' "
                      "AND current_date BETWEEN ksrq AND jzrq ORDER BY gsbh LIMIT 1").fetchone()[0]
    with db.transaction():
        comment = comments.submit(db, gsbh, {"body": f"请保留滨水绿地 {uuid.uuid4().hex[:6]}"})["id"]
    assert _moderation_page(browser, base_url, moderator) == "ready"
    assert _shown_sections(browser) == ["moderation"]
    browser.until(f"return !!document.querySelector(\"#comments tr[data-id='{comment}']\")")
    _shot(browser, "moderation-moderator.png")
    browser.run("const row = document.querySelector(`#comments tr[data-id='${arguments[0]}']`);"
                "row.querySelector('input[name=reply]').value = '感谢您的意见';"
                "row.querySelector('button[name=approve]').click()", comment)
    browser.until(f"return !document.querySelector(\"#comments tr[data-id='{comment}']\")"
                  " && !document.querySelector('#message').hidden && document.querySelector('#message').className === 'ok'")
    assert db.execute("SELECT state, dfnr FROM supervision.public_comment WHERE id = %s", (comment,)).fetchone() \
        == ("approved", "感谢您的意见")
    assert db.execute("SELECT count(*) FROM ops.audit WHERE action = 'moderate-comment' AND actor = %s AND target = %s",
                      (moderator, f"/moderation/api/comments/{comment}")).fetchone()[0] == 1
    # the rights it was not given stay closed to the same session
    statuses = browser.run("return Promise.all(['../moderation/api/reports', '../moderation/api/publications']"
                           ".map(p => fetch(new URL(p, location.href)).then(r => r.status)))")
    assert statuses == [403, 403]

    # a role without the right: the page shows no controls, the API a bilingual 403
    assert _moderation_page(browser, base_url, outsider) == "forbidden"
    assert _shown_sections(browser) == []
    assert not browser.run("return document.querySelectorAll('#comments button, #reports button').length")
    refused = browser.run("return fetch(new URL('../moderation/api/comments', location.href))"
                          ".then(r => r.json().then(body => [r.status, body]))")
    assert refused[0] == 403 and refused[1]["field"] == "Authorization"
    assert "审核公众意见" in refused[1]["message_zh"] and "moderate comments" in refused[1]["message_en"]
    browser.run("document.querySelector('#logout').click()")
    browser.until("return document.body.dataset.state === 'signed-out'")
