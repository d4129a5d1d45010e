"""Limits (限制), each on a real gateway: a second gateway instance on the test
stack's database, started here with a copy of config/ whose limits are
tiny (anonymous rate, page size, body size, process time), so the main test
stack keeps its generous ones and the rest of the suite is unaffected."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from shapely.geometry import box, mapping

from onemap import stack
from onemap.core.daemon import stop_pid
from onemap.core.inforce import in_force
from onemap.core.settings import ROOT, Settings
from tests.conftest import auth

RATE = {"per_second": 0.2, "burst": 3}
MAX_ITEMS = 5
BODY_MB = 0.01  # 10 KiB
TIME_LIMIT_S = 0.001


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def limited_url(database_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("limited")
    config = root / "config"
    shutil.copytree(Settings.from_env().config_dir, config)

    def gateway(data: dict) -> None:
        data["limits"].update({"anonymous_rate": RATE, "max_items": MAX_ITEMS, "upload_max_mb": BODY_MB})
        data["gunicorn"]["workers"] = 2

    def processes(data: dict) -> None:
        for entry in data["processes"]:
            if entry["id"] == "compliance-check":
                entry["time_limit_s"] = TIME_LIMIT_S

    _edit(config / "gateway.yaml", gateway)
    _edit(config / "processes.yaml", processes)
    settings = Settings(var_dir=root / "var", host="127.0.0.1", port=stack.free_port(), pg_port=0,
                        database_url_env=database_url, config_dir=config)
    settings.log_dir.mkdir(parents=True)
    settings.run_dir.mkdir(parents=True)
    stack.generate_config(settings, database_url)
    env = {**stack.gateway_env(settings, database_url), "ONEMAP_CONFIG": str(config)}
    subprocess.run(stack.gunicorn_command(settings, daemon=True), check=True, env=env, cwd=ROOT)
    url = f"http://{settings.host}:{settings.port}"
    deadline = time.monotonic() + 600  # a hang guard on a busy machine, not a time limit
    while True:
        try:
            requests.get(f"{url}/healthz", timeout=60)  # any answer (pycsw is not ours: 503): it runs
            break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, (settings.log_dir / "gateway.log").read_text(errors="replace")[-3000:]
        time.sleep(0.5)
    yield url
    stop_pid(settings.run_dir / "gateway.pid", timeout=45)


def test_anonymous_clients_beyond_their_rate_get_429_with_retry_after(limited_url):
    statuses = []
    for _ in range(RATE["burst"] + 10):  # the burst, then refused (refills take 5 s a request)
        r = requests.get(f"{limited_url}/ogc/collections", params={"f": "json"}, timeout=30)
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    body = r.json()
    assert int(r.headers["Retry-After"]) >= 1
    assert "请求过于频繁" in body["message_zh"] and "Too many requests" in body["message_en"]
    assert r.headers["X-Request-Id"]
    # health checks and token holders are not limited
    assert requests.get(f"{limited_url}/healthz", timeout=60).status_code != 429


def test_token_holders_are_not_rate_limited(limited_url, tokens):
    statuses = {requests.get(f"{limited_url}/ogc/collections", params={"f": "json"}, timeout=30,
                             headers=auth(tokens["staff"])).status_code for _ in range(RATE["burst"] + 5)}
    assert statuses == {200}


def test_a_limit_above_the_maximum_is_the_maximum(limited_url, tokens):
    """OGC API Features Part 1 (7.15.3): a larger limit is not an error; the
    server uses its maximum."""
    r = requests.get(f"{limited_url}/ogc/collections/XZQ/items", params={"f": "json", "limit": 1000},
                     headers=auth(tokens["staff"]), timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["numberReturned"] == MAX_ITEMS and len(r.json()["features"]) == MAX_ITEMS
    assert any(link["rel"] == "next" for link in r.json()["links"])


@pytest.mark.parametrize("method,path", [
    ("POST", "/csw"),
    ("POST", "/ogc/processes/compliance-check/execution"),
    ("POST", "/ogc/collections/JSXM/items"),
])
def test_bodies_above_the_limit_are_413(limited_url, tokens, method, path):
    body = b"<x>" + b"a" * 20_000 + b"</x>"
    r = requests.request(method, f"{limited_url}{path}", data=body, timeout=60,
                         headers={**auth(tokens["admin"]), "Content-Type": "application/xml"})
    assert r.status_code == 413, (path, r.status_code, r.text[:300])
    assert "请求内容过大" in r.json()["message_zh"] and f"{BODY_MB} MB" in r.json()["message_en"]


def test_the_admin_api_takes_no_body(limited_url, tokens):
    r = requests.post(f"{limited_url}/admin/audit", data=b"a" * 20_000, headers=auth(tokens["admin"]), timeout=60)
    assert r.status_code == 405


def test_a_job_over_its_time_limit_is_stopped_and_failed(limited_url, tokens, db):
    row = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM plan.czkfbj "
                     f"WHERE {in_force()} ORDER BY id LIMIT 1) s").fetchone()
    boundary = mapping(box(row[0] - 0.001, row[1] - 0.001, row[0] + 0.001, row[1] + 0.001))
    case = f"TIMEOUT-{time.time_ns()}"
    rid = f"pytest-{case}"
    r = requests.post(f"{limited_url}/ogc/processes/compliance-check/execution", timeout=60,
                      json={"inputs": {"boundary": boundary, "stage": "用地预审", "use_code": "0701", "case_id": case}},
                      headers={**auth(tokens["staff"]), "Prefer": "respond-async", "X-Request-Id": rid})
    assert r.status_code == 201, r.text
    location = r.headers["Location"]
    deadline = time.monotonic() + 600  # a hang guard, not a time limit
    while True:
        job = requests.get(location, params={"f": "json"}, headers=auth(tokens["staff"]), timeout=60).json()
        if job["status"] in ("successful", "failed"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "failed", job
    assert "处理超时" in job["message"] and f"limit of {TIME_LIMIT_S:g} s" in job["message"]
    # stopped before it stored anything: no half-written check
    assert db.execute("SELECT count(*) FROM supervision.compliance_check WHERE ajbh = %s", (case,)).fetchone()[0] == 0
    # the failure is logged by the job, with the id of the request that started it
    lines = requests.get(f"{limited_url}/admin/logs", params={"request_id": rid, "component": "jobs"},
                         headers=auth(tokens["admin"]), timeout=60).json()["lines"]
    assert any(line["level"] == "ERROR" and "compliance-check" in line["message"] for line in lines), lines
