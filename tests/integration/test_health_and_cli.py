import subprocess
import sys

import requests

from onemap.core.accounts import create_token


def test_healthz_reports_every_component(base_url):
    r = requests.get(f"{base_url}/healthz", timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "up"
    assert {"postgis", "pygeoapi-public", "pygeoapi-internal"} <= set(body["components"])
    assert all(c["status"] == "up" for c in body["components"].values())


def test_token_create_cli_prints_a_working_token(ogc_url, database_url):
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "onemap.cli", "token", "create", "--role", "admin",
                          "--name", "pytest-cli"], capture_output=True, text=True, env=env, check=True)
    token = out.stdout.strip()
    r = requests.get(f"{ogc_url}/collections/STBHHX/items", params={"f": "json", "limit": 1},
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200


def test_token_create_cli_rejects_an_unknown_role(database_url):
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "onemap.cli", "token", "create", "--role", "root",
                          "--name", "x"], capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "root" in out.stderr


def test_state_changes_are_audited(ogc_url, db, database_url):
    # a caller of its own: other test files write audit rows meanwhile
    token = create_token(database_url, "staff", "pytest-audited")
    mine = "SELECT id, actor, role, action, target FROM ops.audit WHERE id > %s AND actor = 'pytest-audited'"
    last = db.execute("SELECT max(id) FROM ops.audit").fetchone()[0]
    requests.post(f"{ogc_url}/collections/GHYDYH/items", data="{}", timeout=30,
                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    [row] = db.execute(mine, (last,)).fetchall()
    assert row[1:] == ("pytest-audited", "staff", "POST", "/ogc/collections/GHYDYH/items")
