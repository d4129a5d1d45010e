import subprocess
import sys

import requests


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


def test_state_changes_are_audited(ogc_url, db, tokens):
    before = db.execute("SELECT count(*) FROM ops.audit").fetchone()[0]
    requests.post(f"{ogc_url}/collections/GHYDYH/items", data="{}", timeout=30,
                  headers={"Authorization": f"Bearer {tokens['staff']}", "Content-Type": "application/json"})
    row = db.execute("SELECT actor, role, action, target FROM ops.audit ORDER BY id DESC LIMIT 1").fetchone()
    assert db.execute("SELECT count(*) FROM ops.audit").fetchone()[0] == before + 1
    assert row == ("pytest-staff", "staff", "POST", "/ogc/collections/GHYDYH/items")
