"""The admin page /admin/ in a real headless Chromium: an administrator signs
in with the form (a session cookie), sees the users, creates a role and a
token through the page (its calls carry the CSRF token), and signs out."""

from __future__ import annotations

import time
import uuid

import requests

from onemap.core.accounts import create_token
from tests.conftest import auth
from tests.integration.test_viewer import READY_TIMEOUT_S, Browser, browser  # noqa: F401 (the fixture)

PASSWORD = "page-Password-1"


def _until(page: Browser, script: str) -> object:
    """Wait for the page to reach a state (a hang guard, not a time limit)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        value = page.run(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"the page never got to: {script}; message: "
                         f"{page.run('return document.querySelector(\"#message\").textContent')}")


def test_an_administrator_manages_roles_and_tokens_on_the_page(base_url, ogc_url, database_url, browser):  # noqa: F811
    admin = auth(create_token(database_url, "admin", "pytest-page-admin"))
    name = f"page{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=30,
                         json={"name": name, "password": PASSWORD, "roles": ["admin"]}).status_code == 201
    browser.open(f"{base_url}/admin/")
    assert _until(browser, "return document.body.dataset.state !== 'loading' && document.body.dataset.state") \
        == "signed-out"
    browser.run("const f = document.querySelector('#login'); f.elements.name.value = arguments[0];"
                "f.elements.password.value = arguments[1]; f.requestSubmit();", name, PASSWORD)
    assert _until(browser, "return ['ready', 'error', 'forbidden'].includes(document.body.dataset.state)"
                           " && document.body.dataset.state") == "ready"
    assert browser.run("return !!document.querySelector(`#users tr[data-name='${arguments[0]}']`)", name)

    role = f"page-{uuid.uuid4().hex[:6]}"
    browser.run("const f = document.querySelector('#role-form');"
                "f.elements.name.value = arguments[0]; f.elements.zh.value = '页面角色'; f.elements.en.value = 'page role';"
                "f.querySelector(\"input[name=layers][value='STBHHX']\").checked = true;"
                "f.querySelector(\"input[name=reads][value='public']\").checked = true;"
                "f.requestSubmit(f.elements.create);", role)
    _until(browser, f"return !!document.querySelector(\"#roles tr[data-name='{role}']\")")
    stored = {r["name"]: r for r in requests.get(f"{base_url}/admin/roles", headers=admin, timeout=30).json()}
    assert stored[role]["layers"] == ["STBHHX"] and stored[role]["reads"] == ["public"]

    browser.run("const f = document.querySelector('#token-form'); f.elements.account.value = arguments[0];"
                "f.elements.name.value = 'from-the-page'; f.requestSubmit();", name)
    token = _until(browser, "const p = document.querySelector('#new-token');"
                            "return !p.hidden && p.querySelector('code').textContent")
    assert requests.get(f"{ogc_url}/collections/STBHHX/items", params={"f": "json", "limit": 1},
                        headers=auth(token), timeout=30).status_code == 200

    browser.run("document.querySelector('#logout').click()")
    assert _until(browser, "return document.body.dataset.state === 'signed-out'")
