"""compliance-check as an asynchronous job: status and progress, results,
the job list, dismissal, subscriber callbacks to a receiver started here,
a job that fails, and jobs surviving a restart of the gateway."""

from __future__ import annotations

import threading
import time

import pytest
import shapely
from shapely.geometry import box, mapping

from onemap import stack
from onemap.core.db import connect, connection_parameters
from onemap.core.inforce import in_force
from onemap.core.settings import Settings
from onemap.ogc.jobs import OneMapJobManager, fail_interrupted
from tests.conftest import auth

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone


@pytest.fixture(scope="module")
def boundary(db):
    row = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM plan.czkfbj "
                     f"WHERE {in_force()} ORDER BY id LIMIT 1) s").fetchone()
    return mapping(box(row[0] - 0.001, row[1] - 0.001, row[0] + 0.001, row[1] + 0.001))


def submit(http, ogc_url, token, inputs, receiver):
    body = {"inputs": inputs, "subscriber": {"successUri": f"{receiver.url}/success",
                                             "inProgressUri": f"{receiver.url}/progress",
                                             "failedUri": f"{receiver.url}/failed"}}
    r = http.post(f"{ogc_url}/processes/compliance-check/execution", json=body,
                  headers={**auth(token), "Prefer": "respond-async"}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.headers["Preference-Applied"] == "respond-async"
    return r.headers["Location"], r.json()["jobID"]


def wait_done(http, location, token, timeout=600):  # a hang guard, not a time limit
    statuses, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(location, headers=auth(token), params={"f": "json"}).json()
        statuses.append((job["status"], job["progress"]))
        if job["status"] in ("successful", "failed"):
            return job, statuses
        time.sleep(0.2)
    raise AssertionError(f"job did not finish: {statuses[-5:]}")


def test_async_job_lifecycle_with_callbacks_and_restart(http, ogc_url, tokens, boundary, receiver, database_url):
    token = tokens["egov"]
    location, job_id = submit(http, ogc_url, token, {"boundary": boundary, "stage": "用地预审", "use_code": "0701",
                                                     "case_id": "ASYNC-1"}, receiver)
    assert location.endswith(f"/jobs/{job_id}")
    job, statuses = wait_done(http, location, token)
    assert job["status"] == "successful" and job["progress"] == 100, job
    assert all(s in ("accepted", "running", "successful") for s, _ in statuses)
    assert receiver.wait("/progress")["jobID"] == job_id
    pushed = receiver.wait("/success")
    assert pushed["result"]["job_id"] == job_id and pushed["result"]["case_id"] == "ASYNC-1"
    assert pushed["report_pdf"]["href"].endswith(".pdf")
    results = http.get(f"{location}/results", headers=auth(token), params={"f": "json"})
    assert results.status_code == 200 and results.json()["result"]["check_id"] == pushed["result"]["check_id"]
    listed = http.get(f"{ogc_url}/jobs", headers=auth(token), params={"f": "json", "limit": 50}).json()
    assert job_id in [j["jobID"] for j in listed["jobs"]]
    assert http.get(f"{ogc_url}/jobs", params={"f": "json"}).status_code == 401

    # a restart of the gateway: the job and its results are in PostgreSQL
    settings = Settings.from_env()
    http.close()  # no keep-alive connection holds a worker
    assert stack.stop_gateway(settings) and stack.gateway_pid(settings) is None
    stack.start_gateway(settings, database_url, print, timeout=300)  # cold start on a busy machine
    after = http.get(f"{location}/results", headers=auth(token), params={"f": "json"})
    assert after.status_code == 200 and after.json() == results.json()

    dismissed = http.delete(location, headers=auth(token))
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert http.get(location, headers=auth(token), params={"f": "json"}).status_code == 404


def test_failing_job_reports_failed_with_the_reason(http, ogc_url, tokens, boundary, receiver, db):
    before = db.execute("SELECT count(*) FROM supervision.compliance_check").fetchone()[0]
    outside = shapely.affinity.translate(shapely.geometry.shape(boundary), xoff=5.0)  # 5° east: not in the city
    location, job_id = submit(http, ogc_url, tokens["staff"], {"boundary": mapping(outside), "stage": "用地预审",
                                                               "use_code": "1001"}, receiver)
    job, _ = wait_done(http, location, tokens["staff"])
    assert job["status"] == "failed"
    assert "本市范围" in job["message"] and "outside the city" in job["message"]
    pushed = receiver.wait("/failed")
    assert pushed["jobID"] == job_id and pushed["status"] == "failed"
    assert "本市范围" in pushed["message_zh"] and pushed["field"] == "boundary"
    assert http.get(f"{location}/results", headers=auth(tokens["staff"])).status_code >= 400
    assert db.execute("SELECT count(*) FROM supervision.compliance_check").fetchone()[0] == before


def test_jobs_a_stopped_gateway_left_running_are_failed_at_start(db, database_url):
    db.execute("INSERT INTO jobs.jobs (identifier, type, process_id, created, status, progress, message) "
               "VALUES ('interrupted-test', 'process', 'compliance-check', now(), 'running', 30, 'running')")
    try:
        assert fail_interrupted(database_url) >= 1
        status, message = db.execute("SELECT status, message FROM jobs.jobs WHERE identifier = 'interrupted-test'"
                                     ).fetchone()
        assert status == "failed" and "网关重启" in message and "restart" in message
    finally:
        db.execute("DELETE FROM jobs.jobs WHERE identifier = 'interrupted-test'")


def test_a_job_manager_starting_waits_for_no_lock_a_backup_holds(database_url):
    """A backup reads every table in one transaction, then pg_dump waits for
    its locks: a gateway worker starting meanwhile must not queue for an
    exclusive lock on the jobs table (pg_dump would queue behind it, and
    the backup would wait for pg_dump: no end)."""
    with connect(database_url) as holder:
        holder.execute("SELECT count(*) FROM jobs.jobs").fetchone()   # the transaction holds the table
        manager_def = {"name": "onemap.ogc.jobs.OneMapJobManager", "output_dir": None,
                       "connection": {**connection_parameters(database_url), "search_path": ["jobs"]}}
        started = threading.Thread(target=OneMapJobManager, args=(manager_def,), daemon=True)
        started.start()
        started.join(120)   # a hang guard: the old manager waited here until the holder ended
        waiting = holder.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'jobs.jobs'::regclass"
                                 ).fetchone()[0]
        holder.rollback()
    started.join()
    assert waiting == 0
