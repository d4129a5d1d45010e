"""Jobs and check results belong to whoever ran them: another caller gets
404 on their status, results, dismissal and reports, and does not see them
listed; a role with `jobs: all` (admin) sees everyone's."""

from __future__ import annotations

import time

import pytest

from onemap.core.inforce import in_force
from tests.conftest import auth


def _finished(http, url, token):
    deadline = time.monotonic() + 300  # a guard against a hung job, not a speed assertion
    while time.monotonic() < deadline:
        job = http.get(url, headers=auth(token), params={"f": "json"}).json()
        if job["status"] in ("successful", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {url} did not finish")


def _listed(http, ogc_url, token):
    body = http.get(f"{ogc_url}/jobs", headers=auth(token), params={"f": "json", "limit": 1000}).json()
    return {j["jobID"] for j in body["jobs"]}


@pytest.fixture(scope="module")
def staff_job(http, ogc_url, tokens):
    r = http.post(f"{ogc_url}/processes/plan-history/execution", json={"inputs": {}},
                  headers={**auth(tokens["staff"]), "Prefer": "respond-async"}, timeout=60)
    assert r.status_code == 201, r.text[:300]
    location = r.headers["Location"]
    assert _finished(http, location, tokens["staff"])["status"] == "successful"
    return location, r.json()["jobID"]


def test_another_callers_job_is_not_found(http, ogc_url, tokens, staff_job):
    location, job_id = staff_job
    egov = auth(tokens["egov"])
    assert job_id not in _listed(http, ogc_url, tokens["egov"])
    for url in (location, f"{location}/results"):
        r = http.get(url, headers=egov, params={"f": "json"})
        assert r.status_code == 404, (url, r.status_code, r.text[:200])
    assert http.delete(location, headers=egov).status_code == 404
    # the owner still has it, untouched by the refused dismissal
    assert job_id in _listed(http, ogc_url, tokens["staff"])
    assert http.get(f"{location}/results", headers=auth(tokens["staff"]), params={"f": "json"}).status_code == 200


def test_admin_sees_every_job(http, ogc_url, tokens, staff_job):
    location, job_id = staff_job
    assert job_id in _listed(http, ogc_url, tokens["admin"])
    assert http.get(location, headers=auth(tokens["admin"]), params={"f": "json"}).status_code == 200


def test_check_reports_follow_the_same_rule(http, ogc_url, base_url, tokens, db):
    x, y = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM plan.ghydyh "
                      f"WHERE {in_force()} ORDER BY id DESC LIMIT 1) s").fetchone()
    d = 0.0004
    r = http.post(f"{ogc_url}/processes/compliance-check/execution", headers=auth(tokens["egov"]), timeout=300,
                  json={"inputs": {"boundary": {"type": "Polygon", "coordinates": [[
                      [x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]]},
                      "stage": "用地预审", "use_code": "1001"}, "outputs": {"result": {}}})
    assert r.status_code == 200, r.text[:300]
    check_id = r.json()["check_id"]
    report = f"{base_url}/reports/compliance/{check_id}.json"
    assert http.get(report, headers=auth(tokens["egov"])).json()["check_id"] == check_id
    refused = http.get(report, headers=auth(tokens["staff"]))
    assert refused.status_code == 404 and refused.json()["field"] == "checkId"
    assert http.get(report, headers=auth(tokens["admin"])).status_code == 200


def test_a_subscriber_whose_host_does_not_resolve_leaves_the_job_as_it_is(http, ogc_url, tokens):
    """Found by the fuzzer: a callback host that does not resolve was a 500."""
    body = {"inputs": {}, "subscriber": {"inProgressUri": "http://no-such-host.invalid/progress",
                                         "successUri": "http://no-such-host.invalid/success"}}
    r = http.post(f"{ogc_url}/processes/plan-history/execution", json=body, headers=auth(tokens["staff"]),
                  timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["versions"]
