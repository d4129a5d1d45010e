"""The outbox (发件箱) and the e-government callbacks, against a signed
receiver started here: callbacks arrive signed with the partner's secret;
with the receiver down, three checks finish, the gateway restarts, the
receiver comes back — every callback arrives exactly once per key; a
message the partner refuses is dead, shown with its delivery log and
replayed by the administrator; the admin API is for administrators only; a
batch check reports each item; the embedded case map shows each caller
what it may see."""

from __future__ import annotations

import time

import pytest
import requests
from click.testing import CliRunner
from shapely.geometry import box, mapping

from integration import outbox
from integration.cli import outbox as outbox_command
from integration.config import IntegrationConfig, secret
from integration.standins import SignedReceiver
from onemap import stack
from onemap.core import db as core_db
from onemap.core.inforce import in_force
from onemap.core.settings import Settings
from tests.conftest import auth
from tests.integration.test_compliance_jobs import wait_done

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

HANG_GUARD_S = 120  # waits for states, not a time limit


@pytest.fixture(scope="module")
def egov_secret() -> bytes:
    settings = Settings.from_env()
    return secret(settings, IntegrationConfig.load(settings.config_dir).partner("egov"))


@pytest.fixture(scope="module")
def boundary(db):
    row = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM plan.czkfbj "
                     f"WHERE {in_force()} ORDER BY id LIMIT 1) s").fetchone()
    return mapping(box(row[0] - 0.001, row[1] - 0.001, row[0] + 0.001, row[1] + 0.001))


def run_check(http, ogc_url, token, boundary, case_id, receiver):
    body = {"inputs": {"boundary": boundary, "stage": "用地预审", "use_code": "0701", "case_id": case_id},
            "subscriber": {"successUri": f"{receiver.url}/success", "inProgressUri": f"{receiver.url}/progress"}}
    r = http.post(f"{ogc_url}/processes/compliance-check/execution", json=body,
                  headers={**auth(token), "Prefer": "respond-async"}, timeout=60)
    assert r.status_code == 201, r.text
    return r.headers["Location"], r.json()["jobID"]


def test_callbacks_survive_a_down_receiver_and_a_gateway_restart(http, ogc_url, tokens, boundary, egov_secret, db,
                                                                 database_url):
    receiver = SignedReceiver(egov_secret)  # not started: the e-government system is down
    jobs = [run_check(http, ogc_url, tokens["egov"], boundary, f"OUTBOX-{n}", receiver) for n in range(3)]
    for location, _ in jobs:
        assert wait_done(http, location, tokens["egov"])[0]["status"] == "successful"
    keys = {f"{job_id}:{event}" for _, job_id in jobs for event in ("inProgress", "success")}
    rows = db.execute("SELECT idempotency_key, state FROM integration.outbox WHERE idempotency_key = ANY(%s)",
                      (list(keys),)).fetchall()
    assert {key for key, _ in rows} == keys and {state for _, state in rows} == {"pending"}
    deadline = time.monotonic() + HANG_GUARD_S  # the deliverer tries while the receiver is down
    while not db.execute("SELECT count(*) FROM integration.outbox WHERE idempotency_key = ANY(%s) "
                         "AND attempts > 0", (list(keys),)).fetchone()[0]:
        assert time.monotonic() < deadline, "the outbox never tried to deliver"
        time.sleep(0.2)

    settings = Settings.from_env()
    http.close()
    assert stack.stop_gateway(settings)
    receiver.start()
    try:
        stack.start_gateway(settings, database_url, print, timeout=300)
        receiver.wait_keys(keys)
        assert all(receiver.per_key[key] == 1 for key in keys), receiver.per_key
        assert not [c for c in receiver.calls if c["refused"]]
        success = [c for c in receiver.calls if c["key"] == f"{jobs[0][1]}:success"][0]
        assert success["path"] == "/success" and success["body"]["result"]["case_id"] == "OUTBOX-0"
        states = db.execute("SELECT state, attempts FROM integration.outbox WHERE idempotency_key = ANY(%s)",
                            (list(keys),)).fetchall()
        assert {state for state, _ in states} == {"sent"}
        assert max(attempts for _, attempts in states) >= 2, states  # tried while the receiver was down
    finally:
        receiver.stop()


def test_a_refused_message_is_dead_and_replayed_by_the_administrator(base_url, tokens, egov_secret, database_url):
    receiver = SignedReceiver(egov_secret).start()
    try:
        receiver.status = 422  # the partner refuses it: no retry would help
        key = f"replay-test-{receiver.port}"
        with core_db.connect(database_url, autocommit=True) as conn:
            message_id = outbox.enqueue(conn, outbox.Message.json("egov", "callback", key, f"{receiver.url}/cb",
                                                                   {"jobID": "x"}))
            assert outbox.enqueue(conn, outbox.Message.json("egov", "callback", key, receiver.url, {})) is None
        admin = auth(tokens["admin"])
        shown = wait_state(http_get(base_url, f"/admin/outbox/{message_id}", admin), "dead")
        assert shown["attempts"] == 1 and "HTTP 422" in shown["last_error"]
        assert [d["http_status"] for d in shown["deliveries"]] == [422]
        listed = http_get(base_url, "/admin/outbox", admin, state="dead")()
        assert message_id in [m["id"] for m in listed["messages"]]

        receiver.status = 200
        r = requests.post(f"{base_url}/admin/outbox/{message_id}/replay", headers=admin, timeout=30)
        assert r.status_code == 200 and r.json()["state"] == "pending"
        receiver.wait_keys({key})
        shown = wait_state(http_get(base_url, f"/admin/outbox/{message_id}", admin), "sent")
        assert [d["http_status"] for d in shown["deliveries"]] == [422, 200]
        again = requests.post(f"{base_url}/admin/outbox/{message_id}/replay", headers=admin, timeout=30)
        assert again.status_code == 409 and "死信" in again.json()["message_zh"]
        assert requests.get(f"{base_url}/admin/outbox/999999999", headers=admin, timeout=30).status_code == 404
        assert requests.get(f"{base_url}/admin/outbox", params={"state": "lost"}, headers=admin,
                            timeout=30).status_code == 400
        audit_rows = requests.get(f"{base_url}/admin/audit", params={"target": f"/admin/outbox/{message_id}"},
                                  headers=admin, timeout=30).json()["records"]
        assert {(row["action"], row["status"]) for row in audit_rows} == {("POST", 200), ("POST", 409)}
        # the CLI reads the same table
        listed = CliRunner().invoke(outbox_command, ["list", "--state", "sent", "--limit", "10000"])
        assert listed.exit_code == 0 and key in listed.output
    finally:
        receiver.stop()


@pytest.mark.parametrize("caller", [None, "staff", "egov"])
def test_the_outbox_is_for_administrators_only(base_url, tokens, caller):
    r = requests.get(f"{base_url}/admin/outbox", headers=auth(tokens[caller]) if caller else {}, timeout=30)
    assert r.status_code == (401 if caller is None else 403), r.text


def http_get(base_url, path, headers, **params):
    def get():
        r = requests.get(f"{base_url}{path}", headers=headers, params=params, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()
    return get


def wait_state(get, state, timeout=600):  # a hang guard, not a time limit
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = get()
        if found["state"] == state:
            return found
        time.sleep(0.2)
    raise AssertionError(f"still {found['state']}: {found}")


def test_a_batch_check_reports_each_item_and_the_case_map_shows_it(http, base_url, ogc_url, tokens, boundary, db,
                                                                    layers):
    items = [{"boundary": boundary, "stage": "用地预审", "use_code": "0701", "case_id": "BATCH-1"},
             {"boundary": boundary, "business_type": "建设工程规划许可证", "use_code": "0701", "case_id": "BATCH-2"},
             {"boundary": boundary, "business_type": "无此业务", "use_code": "0701", "case_id": "BATCH-3"},
             {"boundary": boundary, "stage": "用地预审", "use_code": "9999", "case_id": "BATCH-4"}]
    r = http.post(f"{ogc_url}/processes/compliance-batch-check/execution", json={"inputs": {"items": items}},
                  headers=auth(tokens["egov"]), timeout=300)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["checked"], result["failed"]) == (2, 2)
    first, second, unknown, bad_code = result["items"]
    assert first["status"] == second["status"] == "checked" and second["stage"] == "工程报建"
    stored = dict(db.execute("SELECT jcbh, ajbh FROM supervision.compliance_check WHERE jcbh = ANY(%s)",
                             ([first["check_id"], second["check_id"]],)).fetchall())
    assert stored == {first["check_id"]: "BATCH-1", second["check_id"]: "BATCH-2"}
    assert unknown["error"]["field"] == "items[2].business_type" and "无此业务" in unknown["error"]["message_zh"]
    assert bad_code["error"]["field"] == "items[3].use_code"
    empty = http.post(f"{ogc_url}/processes/compliance-batch-check/execution", json={"inputs": {"items": []}},
                      headers=auth(tokens["egov"]), timeout=60)
    assert empty.status_code == 400 and empty.json()["field"] == "items"

    # the e-government portal's case map of BATCH-1: what each caller may see
    def case_map(token):
        return http.get(f"{base_url}/embed/case/BATCH-1.json", headers=auth(token), timeout=60)

    seen = case_map(tokens["egov"])
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert [f["properties"]["check_id"] for f in body["checks"]["features"]] == [first["check_id"]]
    assert body["checks"]["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    public = {layer.id for layer in layers if layer.is_public}
    assert body["layers"] and set(body["layers"]) <= public  # egov reads public layers only
    assert {f["properties"]["layer"] for f in body["findings"]["features"]} <= public
    everything = case_map(tokens["admin"]).json()  # jobs: all, reads internal
    assert set(everything["layers"]) - public and len(everything["findings"]["features"]) >= len(
        body["findings"]["features"])
    assert case_map(tokens["staff"]).status_code == 404  # another's check: not there for staff
    assert case_map(None).status_code == 401
    page = http.get(f"{base_url}/embed/case/BATCH-1", timeout=60)
    assert page.status_code == 200 and "embed.js" in page.text
    assert http.get(f"{base_url}/embed/static/embed.js", timeout=60).status_code == 200
