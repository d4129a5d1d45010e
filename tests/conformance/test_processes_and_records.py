"""OGC API Processes and Records through OWSLib's clients: the process list
and descriptions, a synchronous and an asynchronous execution whose result
equals the database's, a subscriber callback to a receiver on loopback, and
record searches by text, sort order and bbox against the catalogue table."""

from __future__ import annotations

import time

import pytest
import requests
from owslib.ogcapi.processes import Processes
from owslib.ogcapi.records import Records
from owslib.util import Authentication

from catalogue.config import AUDIENCE_FILTERS, REPOSITORY_SCHEMA
from onemap.core.inforce import in_force
from tests.conftest import auth

PROCESSES = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
RECORDS = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/"


@pytest.fixture(scope="module")
def processes(ogc_url, tokens) -> Processes:
    # HTTP Basic with the token as the password: OWSLib 0.36 merges `headers=`
    # into its module-wide default headers, so a bearer header given there
    # would go out with every later OWSLib request of the process.
    return Processes(ogc_url, auth=Authentication("staff", tokens["staff"]), timeout=600)


@pytest.fixture(scope="module")
def boundary_area(db) -> float:
    return db.execute(f"SELECT sum(ST_Area(geom::geography)) FROM plan.czkfbj WHERE {in_force()}").fetchone()[0]


def wait_done(location: str, token: str, timeout: float = 600) -> dict:  # a hang guard, not a time limit
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(location, headers=auth(token), params={"f": "json"}, timeout=30).json()
        if job["status"] in ("successful", "failed", "dismissed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job did not finish: {job}")


@pytest.mark.conformance(PROCESSES + "core", PROCESSES + "json", PROCESSES + "ogc-process-description",
                         client="OWSLib Processes")
def test_owslib_lists_describes_and_executes_a_process(processes, ogc_url, boundary_area, layers):
    listed = {p["id"] for p in processes.processes()}
    assert {"compliance-check", "area-statistics"} <= listed
    description = processes.process("area-statistics")
    assert description["id"] == "area-statistics" and "sync-execute" in description["jobControlOptions"]
    assert description["inputs"]["layer"]["schema"]["type"] == "string"
    result = processes.execute("area-statistics", {"layer": "CZKFBJ"})
    [output] = result["outputs"]
    assert sum(r["area_m2"] for r in output["statistics"]["rows"]) == pytest.approx(boundary_area, rel=1e-6)


@pytest.mark.conformance(PROCESSES + "core", client="OWSLib Processes (async)")
def test_owslib_executes_asynchronously_and_reads_the_job(processes, ogc_url, tokens, boundary_area):
    job = processes.execute("area-statistics", {"layer": "CZKFBJ"}, async_=True)
    assert job["status"] in ("accepted", "running", "successful")
    done = wait_done(f"{ogc_url}/jobs/{job['jobID']}", tokens["staff"])
    assert done["status"] == "successful", done
    results = requests.get(f"{ogc_url}/jobs/{job['jobID']}/results", params={"f": "json"},
                           headers=auth(tokens["staff"]), timeout=60)
    assert results.status_code == 200, results.text
    [output] = results.json()["outputs"]  # OWSLib asks for the result document
    assert sum(r["area_m2"] for r in output["statistics"]["rows"]) == pytest.approx(boundary_area, rel=1e-6)


@pytest.mark.conformance(PROCESSES + "callback", client="requests + a subscriber receiver on loopback")
def test_the_subscriber_is_called_back_with_the_result(ogc_url, tokens, receiver, db):
    # compliance-check is the process that may call back a loopback partner
    lon, lat = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM plan.czkfbj "
                          f"WHERE {in_force()} ORDER BY id LIMIT 1) s").fetchone()
    square = [[lon - 1e-3, lat - 1e-3], [lon + 1e-3, lat - 1e-3], [lon + 1e-3, lat + 1e-3], [lon - 1e-3, lat + 1e-3]]
    inputs = {"boundary": {"type": "Polygon", "coordinates": [[*square, square[0]]]},
              "stage": "用地预审", "use_code": "0701", "case_id": "CONFORMANCE-1"}
    body = {"inputs": inputs,
            "subscriber": {"successUri": f"{receiver.url}/success", "failedUri": f"{receiver.url}/failed"}}
    r = requests.post(f"{ogc_url}/processes/compliance-check/execution", json=body, timeout=60,
                      headers={**auth(tokens["egov"]), "Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    pushed = receiver.wait("/success")
    assert pushed["result"]["job_id"] == r.json()["jobID"] and pushed["result"]["case_id"] == "CONFORMANCE-1"


@pytest.fixture(scope="module")
def records(ogc_url) -> Records:
    return Records(ogc_url)


def public_records(db) -> dict[str, str]:
    """What an anonymous client may see: the public audience's repository filter."""
    return dict(db.execute(f"SELECT identifier, title FROM {REPOSITORY_SCHEMA}.records "
                           f"WHERE {AUDIENCE_FILTERS['public']}").fetchall())


@pytest.mark.conformance(RECORDS + "core", RECORDS + "json", client="OWSLib Records")
def test_owslib_reads_every_public_record(records, db):
    assert "catalogue" in records.records()
    got = records.collection_items("catalogue", limit=1000)
    assert {f["id"]: f["properties"]["title"] for f in got["features"]} == public_records(db)
    some = next(iter(public_records(db)))
    assert records.collection_item("catalogue", some)["id"] == some


@pytest.mark.conformance(RECORDS + "opensearch", client="OWSLib Records")
def test_owslib_searches_records_by_text_and_bbox(records, db):
    expected = {i for i, title in public_records(db).items() if "控制线" in title}
    got = records.collection_items("catalogue", q="控制线", limit=1000)
    assert expected and expected <= {f["id"] for f in got["features"]}
    far = records.collection_items("catalogue", bbox=[-10, -10, -9, -9], limit=1000)
    assert far["numberMatched"] == 0 and far["features"] == []


@pytest.mark.conformance(RECORDS + "sorting", client="OWSLib Records")
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_owslib_sorts_records(records, db, order):
    got = records.collection_items("catalogue", sortby=("title", order), limit=1000)
    # in the database's collation (Chinese titles), not in code-point order
    expected = [r[0] for r in db.execute(f"SELECT title FROM {REPOSITORY_SCHEMA}.records WHERE "
                                         f"{AUDIENCE_FILTERS['public']} ORDER BY title {order}")]
    assert [f["properties"]["title"] for f in got["features"]] == expected
