"""Scale-out (横向扩展): the gateway keeps no state of its own, so instances
behind a load balancer share PostGIS, the job store and the tile cache. A
second gateway instance is started here on the test stack's var/ and
database, with nginx (Debian's) on loopback balancing the two; a job created
through one is followed and dismissed through the other."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from onemap import stack
from onemap.core.settings import ROOT, Settings
from tests.conftest import auth

HANG_GUARD_S = 600  # a guard against a hung start or job on a busy machine, not a time limit


def _answering(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        assert process.poll() is None, f"{process.args[0]} exited with {process.returncode}"
        try:
            requests.get(url, timeout=60)  # any answer: it runs
            return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"{url} does not answer"
        time.sleep(0.2)


def _balancer_conf(tmp, port: int, backends: list[str]) -> str:
    servers = "".join(f"server {b};" for b in backends)
    return f"""worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{}}
http {{
  access_log off; client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream gateways {{ {servers} keepalive 8; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://gateways; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"""


@pytest.fixture(scope="module")
def instances(base_url, database_url, tmp_path_factory):
    """(first, second, balancer): the test stack's gateway, a second one
    trusting one proxy's X-Forwarded-For, nginx before both."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    settings = dataclasses.replace(Settings.from_env(), port=stack.free_port(), proxies=1)
    # one worker: enough to show the instances share their state, and quick to start
    env = {**stack.gateway_env(settings, database_url), "ONEMAP_WORKERS": "1"}
    second = subprocess.Popen(stack.gunicorn_command(settings, daemon=False), env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = tmp_path_factory.mktemp("balancer")
    port = stack.free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(_balancer_conf(tmp, port, [base_url.split("//", 1)[1], f"{settings.host}:{settings.port}"]))
    balancer = subprocess.Popen([nginx, "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf)])
    try:
        second_url = f"http://{settings.host}:{settings.port}"
        _answering(f"{second_url}/healthz", second)
        _answering(f"http://127.0.0.1:{port}/healthz", balancer)
        yield base_url, second_url, f"http://127.0.0.1:{port}"
    finally:
        balancer.send_signal(signal.SIGINT)  # nginx: quick shutdown
        # nothing of the second instance is left to finish (its job is
        # done); gunicorn's own shutdown waits seconds for the worker's pool
        workers = Path(f"/proc/{second.pid}/task/{second.pid}/children").read_text().split()
        for pid in workers:
            os.kill(int(pid), signal.SIGKILL)
        second.kill()
        for process in (balancer, second):
            process.wait(timeout=60)


def test_a_job_created_through_one_instance_is_followed_and_dismissed_through_the_other(instances, tokens):
    first, second, balancer = instances
    staff = auth(tokens["staff"])
    r = requests.post(f"{first}/ogc/processes/plan-history/execution", json={"inputs": {}}, timeout=60,
                      headers={**staff, "Prefer": "respond-async"})
    assert r.status_code == 201, r.text[:300]
    job_id = r.json()["jobID"]
    status_url = f"{second}/ogc/jobs/{job_id}"
    deadline = time.monotonic() + HANG_GUARD_S
    while (job := requests.get(status_url, params={"f": "json"}, headers=staff, timeout=60).json())["status"] \
            not in ("successful", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "successful", job
    results = requests.get(f"{status_url}/results", params={"f": "json"}, headers=staff, timeout=60)
    assert results.status_code == 200 and results.json()
    # through the balancer, whichever instance answers, the same job
    for _ in range(4):
        via = requests.get(f"{balancer}/ogc/jobs/{job_id}", params={"f": "json"}, headers=staff, timeout=60)
        assert via.status_code == 200 and via.json()["jobID"] == job_id
    assert requests.delete(status_url, headers=staff, timeout=60).status_code == 200
    assert requests.get(f"{first}/ogc/jobs/{job_id}", params={"f": "json"}, headers=staff,
                        timeout=60).status_code == 404


def test_instances_share_the_tile_cache_and_the_access_policy(instances, tokens):
    first, second, balancer = instances
    url = "/mapproxy/wmts/one_map/WebMercatorQuad/8/207/107.png"
    drawn = requests.get(f"{first}{url}", timeout=120)
    assert drawn.status_code == 200
    # the second instance serves the tile the first drew, with the same ETag
    cached = requests.get(f"{second}{url}", timeout=60)
    assert cached.content == drawn.content
    again = requests.get(f"{balancer}{url}", headers={"If-None-Match": cached.headers["ETag"]}, timeout=60)
    assert again.status_code == 304
    for base in (second, balancer):
        assert requests.get(f"{base}/ogc/collections/DLTB/items", timeout=60).status_code == 401
        assert requests.get(f"{base}/ogc/collections/DLTB/items", params={"limit": 1},
                            headers=auth(tokens["staff"]), timeout=60).status_code == 200


def test_the_client_address_is_the_balancers_word_only_where_one_is_configured(instances, db):
    """Rate buckets and audit rows go by the client's address: behind a
    balancer (ONEMAP_PROXIES=1) the one it forwards, else the peer's own — a
    forged X-Forwarded-For changes nothing."""
    first, second, _ = instances
    remote = {}
    for name, base in (("first", first), ("second", second)):
        request_id = f"pytest-proxies-{name}-{time.time_ns()}"
        r = requests.post(f"{base}/ogc/processes/no-such-process/execution", json={"inputs": {}}, timeout=60,
                          headers={"X-Forwarded-For": "203.0.113.9", "X-Request-Id": request_id})
        assert r.status_code >= 400  # refused, and audited all the same
        remote[name] = db.execute("SELECT detail->>'remote' FROM ops.audit WHERE request_id = %s",
                                  (request_id,)).fetchone()[0]
    assert remote == {"first": "127.0.0.1", "second": "203.0.113.9"}
