"""Accounts, roles and tokens through the admin API, the CLI and every way of
signing in: HTTP Basic with a password (and GDAL doing it), lockout,
deactivation, expiring and revoked tokens, the browser session with its
CSRF token, and a role change that every gateway worker applies at once."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid

import pytest
import requests

from onemap.core.accounts import AccountSettings, create_token
from onemap.core.settings import Settings
from tests.conftest import auth

INTERNAL = "STBHHX"
PASSWORD = "correct-Horse-42"
# more requests than gateway workers: each worker answers some of them
ROUNDS = 12


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def admin(database_url) -> dict[str, str]:
    return auth(create_token(database_url, "admin", "pytest-accounts-admin"))


@pytest.fixture(scope="module")
def account_settings() -> AccountSettings:
    return AccountSettings.from_gateway(Settings.from_env().gateway)


def new_user(base_url: str, admin: dict[str, str], roles: list[str], **extra) -> str:
    name = f"u{uuid.uuid4().hex[:10]}"
    r = requests.post(f"{base_url}/admin/users", headers=admin, timeout=30,
                      json={"name": name, "password": PASSWORD, "roles": roles, **extra})
    assert r.status_code == 201, r.text
    return name


def internal_items(ogc_url: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{ogc_url}/collections/{INTERNAL}/items", params={"f": "json", "limit": 1},
                        headers=headers, timeout=30)


def test_the_admin_api_needs_the_accounts_administration(base_url, tokens):
    assert requests.get(f"{base_url}/admin/users", timeout=30).status_code == 401
    r = requests.get(f"{base_url}/admin/users", headers=auth(tokens["staff"]), timeout=30)
    assert r.status_code == 403 and r.json()["message_zh"] and r.json()["field"] == "Authorization"
    assert requests.get(f"{base_url}/admin/users", headers=auth(tokens["admin"]), timeout=30).status_code == 200


@pytest.mark.parametrize("body, field, status", [
    ({"name": "bad name!", "password": PASSWORD}, "name", 400),
    ({"name": "shortpw", "password": "short"}, "password", 400),
    ({"name": "norole", "password": PASSWORD, "roles": ["root"]}, "roles", 400),
    ({"name": "dept", "password": PASSWORD, "department": 7}, "department", 400),
    ([], None, 400),
])
def test_bad_user_input_is_a_bilingual_400_naming_the_field(base_url, admin, db, body, field, status):
    r = requests.post(f"{base_url}/admin/users", json=body, headers=admin, timeout=30)
    assert r.status_code == status, r.text
    assert r.json().get("field") == field and r.json()["message_zh"] and r.json()["message_en"]
    if isinstance(body, dict):  # nothing half-written (by name: other files add accounts meanwhile)
        assert db.execute("SELECT count(*) FROM ops.account WHERE name = %s", (body["name"],)).fetchone()[0] == 0


def test_a_refused_change_leaves_nothing_half_written(base_url, admin, db):
    name = new_user(base_url, admin, ["staff"], display_name="原名")
    audit_rows = db.execute("SELECT count(*) FROM ops.audit WHERE target = %s", (f"user:{name}",)).fetchone()[0]
    r = requests.patch(f"{base_url}/admin/users/{name}", headers=admin, timeout=30,
                       json={"display_name": "新名", "roles": ["staff", "root"]})
    assert r.status_code == 400 and r.json()["field"] == "roles"
    user = requests.get(f"{base_url}/admin/users/{name}", headers=admin, timeout=30).json()
    assert user["display_name"] == "原名" and user["roles"] == ["staff"]
    assert db.execute("SELECT count(*) FROM ops.audit WHERE target = %s",
                      (f"user:{name}",)).fetchone()[0] == audit_rows  # no change recorded: none was made
    extra = requests.patch(f"{base_url}/admin/users/{name}", headers=admin, json={"name": "other"}, timeout=30)
    assert extra.status_code == 400 and extra.json()["field"] == "name"


def test_a_user_signs_in_with_basic_and_gdal_reads_an_internal_layer(base_url, ogc_url, admin, db):
    name = new_user(base_url, admin, ["staff"], display_name="张规划", department="规划科")
    assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=30,
                         json={"name": name, "password": PASSWORD}).status_code == 409
    for _ in range(ROUNDS):  # the cached verification answers the same
        assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 200
    env = {**os.environ, "GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"{name}:{PASSWORD}"}
    result = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{ogc_url}", INTERNAL], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0 and "Feature Count" in result.stdout, result.stderr
    user = requests.get(f"{base_url}/admin/users/{name}", headers=admin, timeout=30).json()
    assert user["display_name"] == "张规划" and user["department"] == "规划科" and "password_hash" not in user
    stored = db.execute("SELECT password_hash FROM ops.account WHERE name = %s", (name,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    audit = db.execute("SELECT actor, detail, input_sha256 FROM ops.audit WHERE action = 'accounts.user.create' "
                       "AND target = %s", (f"user:{name}",)).fetchone()
    assert audit[0] == "pytest-accounts-admin" and "password" not in audit[1]
    request_row = db.execute("SELECT input_sha256 FROM ops.audit WHERE action = 'POST' AND target = '/admin/users' "
                             "AND actor = 'pytest-accounts-admin' ORDER BY id DESC LIMIT 1").fetchone()
    assert request_row[0] is None  # a body with a password leaves no hash to guess against


def test_deactivation_ends_cached_basic_tokens_and_sessions_at_once(base_url, ogc_url, admin, db):
    name = new_user(base_url, admin, ["staff"])
    token = requests.post(f"{base_url}/admin/tokens", headers=admin, json={"account": name, "name": "qgis"},
                          timeout=30).json()["token"]
    session = requests.Session()
    assert session.post(f"{base_url}/auth/login", json={"name": name, "password": PASSWORD},
                        timeout=30).status_code == 200
    for _ in range(ROUNDS):
        assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 200
    r = requests.post(f"{base_url}/admin/users/{name}/deactivate", headers=admin, timeout=30)
    assert r.status_code == 200 and r.json()["active"] is False
    for _ in range(ROUNDS):
        assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 401
        assert internal_items(ogc_url, auth(token)).status_code == 401
        assert session.get(f"{base_url}/auth/me", timeout=30).json()["anonymous"] is True
    assert db.execute("SELECT count(*) FROM ops.audit WHERE action = 'accounts.user.deactivate' AND target = %s",
                      (f"user:{name}",)).fetchone()[0] == 1


def test_lockout_after_repeated_failures_and_reset_unlocks(base_url, ogc_url, admin, account_settings):
    name = new_user(base_url, admin, ["staff"])
    for _ in range(account_settings.lockout_failures - 1):
        r = internal_items(ogc_url, basic(name, "wrong-password"))
        assert r.status_code == 401 and r.json()["message_zh"]
    r = internal_items(ogc_url, basic(name, "wrong-password"))
    assert r.status_code == 423 and "锁定" in r.json()["message_zh"] and "locked" in r.json()["message_en"]
    assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 423  # even the right one, now
    login = requests.post(f"{base_url}/auth/login", json={"name": name, "password": PASSWORD}, timeout=30)
    assert login.status_code == 423
    user = requests.get(f"{base_url}/admin/users/{name}", headers=admin, timeout=30).json()
    assert user["locked_until"] and user["failed_logins"] == account_settings.lockout_failures
    short = requests.post(f"{base_url}/admin/users/{name}/password", headers=admin, json={"password": "x"},
                          timeout=30)
    assert short.status_code == 400 and short.json()["field"] == "password"
    new_password = PASSWORD + "-new"
    assert requests.post(f"{base_url}/admin/users/{name}/password", headers=admin, json={"password": new_password},
                         timeout=30).status_code == 200
    assert internal_items(ogc_url, basic(name, new_password)).status_code == 200
    assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 401


def test_tokens_belong_to_users_expire_and_are_revoked(base_url, ogc_url, admin, db):
    name = new_user(base_url, admin, ["staff"])
    for body, field in (({"account": name, "name": "x", "days": 0}, "days"),
                        ({"account": name, "name": ""}, "name"),
                        ({"account": "nobody-" + name, "name": "x"}, "account")):
        r = requests.post(f"{base_url}/admin/tokens", headers=admin, json=body, timeout=30)
        assert r.status_code in (400, 404) and r.json()["field"] == field, r.text
    created = requests.post(f"{base_url}/admin/tokens", headers=admin, json={"account": name, "name": "desk"},
                            timeout=30)
    assert created.status_code == 201
    token = created.json()["token"]
    assert internal_items(ogc_url, auth(token)).status_code == 200
    assert internal_items(ogc_url, basic("anyone", token)).status_code == 200  # QGIS: the token as the password
    listed = [t for t in requests.get(f"{base_url}/admin/tokens", headers=admin, timeout=30).json()
              if t["account"] == name]
    assert len(listed) == 1 and listed[0]["valid"] and listed[0]["expires_at"] and "token" not in listed[0]
    # expired: its expiry moved into the past (a state, not a wait)
    db.execute("UPDATE ops.token SET expires_at = now() - interval '1 minute' WHERE id = %s", (listed[0]["id"],))
    assert internal_items(ogc_url, auth(token)).status_code == 401
    db.execute("UPDATE ops.token SET expires_at = now() + interval '1 day' WHERE id = %s", (listed[0]["id"],))
    assert internal_items(ogc_url, auth(token)).status_code == 200
    assert requests.post(f"{base_url}/admin/tokens/{listed[0]['id']}/revoke", headers=admin,
                         timeout=30).status_code == 200
    for _ in range(ROUNDS):
        assert internal_items(ogc_url, auth(token)).status_code == 401
    assert requests.post(f"{base_url}/admin/tokens/{listed[0]['id']}/revoke", headers=admin,
                         timeout=30).status_code == 404


def test_browser_session_cookie_csrf_and_logout(base_url, ogc_url, admin):
    name = new_user(base_url, admin, ["admin"])
    wrong = requests.post(f"{base_url}/auth/login", json={"name": name, "password": "nope"}, timeout=30)
    assert wrong.status_code == 401 and wrong.json()["message_zh"]
    missing = requests.post(f"{base_url}/auth/login", json={"name": name}, timeout=30)
    assert missing.status_code == 400 and missing.json()["field"] == "password"
    browser = requests.Session()
    r = browser.post(f"{base_url}/auth/login", json={"name": name, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert ("Secure" in cookie) == base_url.startswith("https://")  # the dev and test stacks are http
    me = browser.get(f"{base_url}/auth/me", timeout=30).json()
    assert me["name"] == name and me["roles"] == ["admin"] and me["csrf"] and "accounts" in me["administers"]
    assert internal_items(ogc_url, {}).status_code == 401
    assert browser.get(f"{ogc_url}/collections/{INTERNAL}/items", params={"f": "json", "limit": 1},
                       timeout=30).status_code == 200
    role = {"name": f"csrf-{uuid.uuid4().hex[:6]}", "zh": "测试", "en": "test", "reads": ["public"]}
    refused = browser.post(f"{base_url}/admin/roles", json=role, timeout=30)
    assert refused.status_code == 403 and refused.json()["field"] == "X-CSRF-Token"
    forged = browser.post(f"{base_url}/admin/roles", json=role, headers={"X-CSRF-Token": "guess"}, timeout=30)
    assert forged.status_code == 403
    made = browser.post(f"{base_url}/admin/roles", json=role, headers={"X-CSRF-Token": me["csrf"]}, timeout=30)
    assert made.status_code == 201, made.text
    assert browser.post(f"{base_url}/auth/logout", headers={"X-CSRF-Token": me["csrf"]}, timeout=30).ok
    assert browser.get(f"{base_url}/auth/me", timeout=30).json()["anonymous"] is True


def test_a_role_change_applies_in_every_worker_without_restart(base_url, ogc_url, admin, db):
    role = f"reader-{uuid.uuid4().hex[:6]}"
    body = {"zh": "单图层读者", "en": "one-layer reader", "reads": ["public"], "layers": [INTERNAL]}
    assert requests.post(f"{base_url}/admin/roles", headers=admin, json={"name": role, **body},
                         timeout=30).status_code == 201
    name = new_user(base_url, admin, [role])
    for _ in range(ROUNDS):
        assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 200
        assert requests.get(f"{ogc_url}/collections/DLTB/items", params={"f": "json", "limit": 1},
                            headers=basic(name, PASSWORD), timeout=30).status_code == 403
    assert requests.put(f"{base_url}/admin/roles/{role}", headers=admin, json={**body, "layers": []},
                        timeout=30).status_code == 200
    for _ in range(ROUNDS):
        assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 403
    assert requests.delete(f"{base_url}/admin/roles/{role}", headers=admin, timeout=30).status_code == 200
    assert requests.get(f"{base_url}/admin/users/{name}", headers=admin, timeout=30).json()["roles"] == []
    assert [r[0] for r in db.execute("SELECT action FROM ops.audit WHERE target = %s ORDER BY id",
                                     (f"role:{role}",))] == [
        "accounts.role.create", "accounts.role.update", "accounts.role.delete"]


@pytest.mark.parametrize("body, field, status", [
    ({"name": "Bad Name", "zh": "x", "en": "x"}, "name", 400),
    ({"name": "r-sens", "zh": "x", "en": "x", "reads": ["secret"]}, "reads", 400),
    ({"name": "r-layer", "zh": "x", "en": "x", "layers": ["NOPE"]}, "layers", 400),
    ({"name": "r-proc", "zh": "x", "en": "x", "runs": ["no-such-process"]}, "runs", 400),
    ({"name": "r-admin", "zh": "x", "en": "x", "administers": ["everything"]}, "administers", 400),
    ({"name": "r-part", "zh": "x", "en": "x", "participation": ["censor"]}, "participation", 400),
    ({"name": "r-jobs", "zh": "x", "en": "x", "jobs": "some"}, "jobs", 400),
    ({"name": "staff", "zh": "x", "en": "x"}, "name", 409),
])
def test_bad_role_data_is_refused_naming_the_field(base_url, admin, db, body, field, status):
    r = requests.post(f"{base_url}/admin/roles", headers=admin, json=body, timeout=30)
    assert r.status_code == status and r.json()["field"] == field, r.text
    assert db.execute("SELECT count(*) FROM ops.role WHERE name = %s", (body["name"],)).fetchone()[0] == 0


def test_builtin_roles_are_listed_and_cannot_be_changed(base_url, admin):
    roles = {r["name"]: r for r in requests.get(f"{base_url}/admin/roles", headers=admin, timeout=30).json()}
    assert {"public", "staff", "egov", "admin"} <= set(roles) and roles["admin"]["builtin"]
    assert sorted(roles["egov"]["runs"]) == ["compliance-batch-check", "compliance-check"] and roles["admin"]["jobs"] == "all"
    assert requests.put(f"{base_url}/admin/roles/staff", headers=admin, json={"zh": "x", "en": "x"},
                        timeout=30).status_code == 409
    assert requests.delete(f"{base_url}/admin/roles/admin", headers=admin, timeout=30).status_code == 409


def test_the_admin_page_is_served_and_names_the_api(base_url):
    page = requests.get(f"{base_url}/admin/", timeout=30)
    assert page.status_code == 200 and "系统运维" in page.text and "Administration" in page.text
    scripts = {name: requests.get(f"{base_url}/admin/{name}.js", timeout=30)
               for name in ("admin", "common", "accounts", "configuration", "operations")}
    assert all(r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
               for r in scripts.values())
    assert "admin/users" in scripts["accounts"].text and "X-CSRF-Token" in scripts["common"].text
    text = page.text + "".join(r.text for r in scripts.values())
    assert "http://" not in text and "https://" not in text  # no CDN
    assert requests.get(f"{base_url}/admin/nothing.js", timeout=30).status_code == 404


def test_user_cli(ogc_url, database_url, db):
    name = f"cli{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}

    def onemap(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "onemap.cli", *args], capture_output=True, text=True, env=env)

    assert onemap("user", "add", name, "--role", "staff", "--display-name", "李工", "--password",
                  PASSWORD).returncode == 0
    bad = onemap("user", "add", name + "x", "--role", "root", "--password", PASSWORD)
    assert bad.returncode != 0 and "root" in bad.stderr
    assert internal_items(ogc_url, basic(name, PASSWORD)).status_code == 200
    listed = onemap("user", "list").stdout
    assert any(line.startswith(name) and "staff" in line and "李工" in line for line in listed.splitlines())
    assert onemap("user", "passwd", name, "--password", PASSWORD + "2").returncode == 0
    assert internal_items(ogc_url, basic(name, PASSWORD + "2")).status_code == 200
    assert onemap("user", "disable", name).returncode == 0
    assert internal_items(ogc_url, basic(name, PASSWORD + "2")).status_code == 401
    actions = [r[0] for r in db.execute("SELECT action FROM ops.audit WHERE target = %s ORDER BY id",
                                        (f"user:{name}",))]
    assert actions == ["accounts.user.create", "accounts.user.password", "accounts.user.deactivate"]
