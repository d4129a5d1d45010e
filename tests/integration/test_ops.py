"""Operations (系统运维): the audit trail as a hash chain that `onemap audit
verify` checks, request ids in headers, audit rows and JSON log lines, the
admin queries, and backup and restore round trip — on the test stack, through
the running gateway and the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest
import requests
from psycopg import sql

from onemap.backup import MANIFEST, table_checksums
from onemap.core import audit
from onemap.core.auth import Principal
from tests.conftest import auth

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone


def onemap(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "onemap.cli", *args], capture_output=True, text=True, env=env)


def request_id() -> str:
    return f"pytest-{uuid.uuid4().hex}"


# --- request ids, audit rows, log lines, admin queries ----------------------

def test_a_request_id_is_in_the_header_the_audit_row_and_the_log_lines(base_url, ogc_url, db, tokens):
    rid = request_id()
    r = requests.post(f"{ogc_url}/collections/GHYDYH/items", data="{}", timeout=30,
                      headers={**auth(tokens["staff"]), "Content-Type": "application/json", "X-Request-Id": rid})
    assert r.headers["X-Request-Id"] == rid
    row = db.execute("SELECT actor, action, target, status FROM ops.audit WHERE request_id = %s", (rid,)).fetchone()
    assert row == ("pytest-staff", "POST", "/ogc/collections/GHYDYH/items", r.status_code)

    admin = auth(tokens["admin"])
    logged = requests.get(f"{base_url}/admin/logs", params={"request_id": rid}, headers=admin, timeout=30)
    assert logged.status_code == 200, logged.text
    access = [line for line in logged.json()["lines"] if line["component"] == "gateway.access"]
    assert len(access) == 1
    assert access[0]["path"] == "/ogc/collections/GHYDYH/items" and access[0]["status"] == r.status_code
    assert access[0]["principal"] == "pytest-staff" and access[0]["method"] == "POST"
    assert {"time", "level", "message", "duration_ms"} <= access[0].keys()

    audited = requests.get(f"{base_url}/admin/audit", params={"request_id": rid}, headers=admin, timeout=30).json()
    assert audited["numberMatched"] == 1 and audited["records"][0]["target"] == "/ogc/collections/GHYDYH/items"


def test_an_invalid_request_id_is_replaced_by_a_new_one(ogc_url):
    r = requests.get(f"{ogc_url}/collections", params={"f": "json"}, headers={"X-Request-Id": "a b\"c"}, timeout=30)
    assert r.status_code == 200 and r.headers["X-Request-Id"] not in ("", "a b\"c")
    assert requests.get(f"{ogc_url}/collections", timeout=30).headers["X-Request-Id"] != r.headers["X-Request-Id"]


def test_a_process_job_carries_the_request_id(ogc_url, db, tokens):
    rid = request_id()
    r = requests.post(f"{ogc_url}/processes/plan-history/execution", json={"inputs": {}}, timeout=60,
                      headers={**auth(tokens["staff"]), "X-Request-Id": rid})
    assert r.status_code == 200, r.text
    assert db.execute("SELECT process_id FROM jobs.jobs WHERE request_id = %s", (rid,)).fetchone() == ("plan-history",)


@pytest.mark.parametrize("path", ["/admin/audit", "/admin/logs"])
def test_admin_queries_need_an_admin(base_url, tokens, path):
    anonymous = requests.get(f"{base_url}{path}", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["message_zh"]
    for role in ("staff", "egov"):
        r = requests.get(f"{base_url}{path}", headers=auth(tokens[role]), timeout=30)
        assert r.status_code == 403 and r.json()["field"] == "Authorization"


def test_audit_query_filters_pages_and_exports_csv(base_url, ogc_url, tokens):
    rid = request_id()
    for _ in range(3):
        requests.post(f"{ogc_url}/collections/规划图层/items", data="{}", timeout=30,
                      headers={**auth(tokens["staff"]), "Content-Type": "application/json", "X-Request-Id": rid})
    admin = auth(tokens["admin"])
    query = {"actor": "pytest-staff", "action": "POST", "target": "/ogc/collections/规划", "request_id": rid}
    first = requests.get(f"{base_url}/admin/audit", params={**query, "limit": 2}, headers=admin, timeout=30).json()
    assert first["numberMatched"] == 3 and first["numberReturned"] == 2
    rest = requests.get(f"{base_url}/admin/audit", params={**query, "limit": 2, "offset": 2}, headers=admin,
                        timeout=30).json()
    ids = [r["id"] for r in first["records"] + rest["records"]]
    assert len(set(ids)) == 3 and ids == sorted(ids, reverse=True)
    status = first["records"][0]["status"]
    assert requests.get(f"{base_url}/admin/audit", params={**query, "status": status + 1}, headers=admin,
                        timeout=30).json()["numberMatched"] == 0
    at = first["records"][0]["at"]
    later = requests.get(f"{base_url}/admin/audit", params={**query, "from": at}, headers=admin, timeout=30).json()
    assert [r["id"] for r in later["records"]] == [ids[0]]

    exported = requests.get(f"{base_url}/admin/audit", params={**query, "f": "csv"}, headers=admin, timeout=30)
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Chinese
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == ids and rows[0]["target"] == "/ogc/collections/规划图层/items"


@pytest.mark.parametrize("params,field", [({"from": "yesterday"}, "from"), ({"to": "2026-01-01T00:00:00"}, "to"),
                                          ({"status": "ok"}, "status"), ({"offset": "-1"}, "offset")])
def test_bad_audit_query_is_a_bilingual_400(base_url, tokens, params, field):
    r = requests.get(f"{base_url}/admin/audit", params=params, headers=auth(tokens["admin"]), timeout=30)
    assert r.status_code == 400 and r.json()["field"] == field and r.json()["message_zh"]


def test_log_query_by_level_and_component(base_url, tokens):
    admin = auth(tokens["admin"])
    requests.get(f"{base_url}/no/such/page", timeout=30)  # a 404: a WARNING line of gateway.access
    r = requests.get(f"{base_url}/admin/logs", params={"level": "warning", "component": "gateway", "limit": 5},
                     headers=admin, timeout=30)
    lines = r.json()["lines"]
    assert 0 < len(lines) <= 5
    assert all(line["level"] in ("WARNING", "ERROR", "CRITICAL") for line in lines)
    assert all(line["component"].startswith("gateway") for line in lines)
    assert any(line.get("path") == "/no/such/page" for line in lines)
    bad = requests.get(f"{base_url}/admin/logs", params={"level": "loud"}, headers=admin, timeout=30)
    assert bad.status_code == 400 and bad.json()["field"] == "level"


# --- the hash chain ---------------------------------------------------------

def _verify(database_url: str) -> subprocess.CompletedProcess:
    return onemap("audit", "verify", database_url=database_url)


def _put_back(db, row: tuple) -> None:
    """A deleted audit row inserted again as it was (the chain is whole again)."""
    columns = [c for (c,) in db.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                        "'ops' AND table_name = 'audit' ORDER BY ordinal_position")]
    db.execute(sql.SQL("INSERT INTO ops.audit ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns))),
        [json.dumps(v) if isinstance(v, dict) else v for v in row])


def test_audit_verify_names_a_changed_a_deleted_and_a_forged_row(database_url, db, ogc_url, tokens):
    for _ in range(3):  # rows of our own in the middle of the chain
        requests.post(f"{ogc_url}/collections/GHYDYH/items", data="{}", timeout=30,
                      headers={**auth(tokens["staff"]), "Content-Type": "application/json"})
    intact = _verify(database_url)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    last = db.execute("SELECT max(id) FROM ops.audit").fetchone()[0]
    middle = db.execute("SELECT id FROM ops.audit WHERE id < %s ORDER BY id DESC LIMIT 1", (last,)).fetchone()[0]

    (actor,) = db.execute("UPDATE ops.audit SET actor = 'someone-else' WHERE id = %s RETURNING "
                          "(SELECT actor FROM ops.audit WHERE id = %s)", (middle, middle)).fetchone()
    changed = _verify(database_url)
    assert changed.returncode == 1 and f"row {middle} was changed" in changed.stdout, changed.stdout
    db.execute("UPDATE ops.audit SET actor = %s WHERE id = %s", (actor, middle))
    assert _verify(database_url).returncode == 0

    saved = db.execute("SELECT * FROM ops.audit WHERE id = %s", (middle,)).fetchone()
    db.execute("DELETE FROM ops.audit WHERE id = %s", (middle,))
    try:
        deleted = _verify(database_url)
        assert deleted.returncode == 1 and f"rows before row {last} were deleted" in deleted.stdout, deleted.stdout
    finally:
        _put_back(db, saved)
    assert _verify(database_url).returncode == 0

    # the last row deleted: the chain head names a row that is gone
    saved = db.execute("SELECT * FROM ops.audit WHERE id = (SELECT last_id FROM ops.audit_head)").fetchone()
    db.execute("DELETE FROM ops.audit WHERE id = %s", (saved[0],))
    try:
        tail = _verify(database_url)
        assert tail.returncode == 1 and f"the chain head names row {saved[0]}" in tail.stdout, tail.stdout
    finally:
        _put_back(db, saved)

    # a row added by hand, not by the writer
    (forged,) = db.execute("INSERT INTO ops.audit (actor, action) VALUES ('intruder', 'X') RETURNING id").fetchone()
    try:
        added = _verify(database_url)
        assert added.returncode == 1 and f"row {forged} was not written by the audit writer" in added.stdout
    finally:
        db.execute("DELETE FROM ops.audit WHERE id = %s", (forged,))
    assert _verify(database_url).returncode == 0


def test_concurrent_writers_keep_one_chain(database_url, db, ogc_url, tokens):
    """Gateway workers (requests in parallel) and other writers (connections
    of their own, as process jobs and the CLI) at the same time."""
    before = db.execute("SELECT max(id) FROM ops.audit").fetchone()[0]
    rid = request_id()

    def through_gateway() -> None:
        for _ in range(10):
            requests.post(f"{ogc_url}/collections/GHYDYH/items", data="{}", timeout=60,
                          headers={**auth(tokens["staff"]), "Content-Type": "application/json", "X-Request-Id": rid})

    def directly() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for i in range(10):
                audit.record(conn, Principal("pytest-writer", "staff"), "TEST", f"concurrent/{rid}/{i}", 200)

    threads = [threading.Thread(target=f) for f in [through_gateway] * 4 + [directly] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    added = db.execute("SELECT count(*) FROM ops.audit WHERE id > %s AND (request_id = %s OR target LIKE %s)",
                       (before, rid, f"concurrent/{rid}/%")).fetchone()[0]
    assert added == 80
    forks = db.execute("SELECT count(*) FROM (SELECT prev_hash FROM ops.audit GROUP BY prev_hash "
                       "HAVING count(*) > 1) s").fetchone()[0]
    assert forks == 0
    verified = _verify(database_url)
    assert verified.returncode == 0, verified.stdout


# --- backup and restore -----------------------------------------------------

@pytest.fixture
def empty_database(database_url, db):
    name = f"onemap_restore_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(database_url, dbname=name)
    yield url
    db.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_backup_restores_into_an_empty_database_with_the_same_counts_and_checksums(database_url, empty_database,
                                                                                   tmp_path):
    target = tmp_path / "backup"
    made = onemap("backup", str(target), database_url=database_url)
    assert made.returncode == 0, made.stdout + made.stderr
    manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["tables"]["base.xzq"]["rows"] > 0 and manifest["tables"]["ops.audit"]["rows"] > 0
    assert {"database.dump", "config/gateway.yaml", "config/layers.yaml"} <= manifest["files"].keys()

    restored = onemap("restore", str(target), database_url=empty_database)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    with psycopg.connect(empty_database) as conn:
        assert table_checksums(conn) == manifest["tables"]
    assert _verify(empty_database).returncode == 0  # the restored audit chain is whole

    again = onemap("restore", str(target), database_url=empty_database)
    assert again.returncode != 0 and "not empty" in again.stderr and "--force" in again.stderr


def test_a_damaged_backup_is_refused(database_url, empty_database, tmp_path):
    target = tmp_path / "backup"
    assert onemap("backup", str(target), database_url=database_url).returncode == 0
    with open(target / "config" / "layers.yaml", "a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    refused = onemap("restore", str(target), database_url=empty_database)
    assert refused.returncode != 0 and "config/layers.yaml" in refused.stderr
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'base'").fetchone()[0] == 0
