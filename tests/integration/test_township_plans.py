"""Township plans over HTTP: a demo township's package passes the township
edition and fails the municipal one only where the editions differ; it
publishes as a version of that township alone; the submission status is
changed with an audit record and a bad one is a bilingual 400; a target
over the city's allocation is a finding. Publishes a township version:
serial."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from pathlib import Path

import pytest
import requests

from onemap.demo.township import demo_townships, township_package
from processes.qc.spec import editions
from tests import plan_packages
from tests.conftest import auth

pytestmark = pytest.mark.serial

TOWNSHIP, MUNICIPAL = "township-2024", "2024"
SUMMARY_ONLY = {"summary": {}, "findings": {}}


@pytest.fixture(scope="module")
def township(database_url) -> str:
    return demo_townships(database_url, 1)[0]


@pytest.fixture(scope="module")
def package(database_url, township, tmp_path_factory) -> Path:
    return township_package(database_url, township, tmp_path_factory.mktemp("township") / "township.gpkg")


def execute(ogc_url, process, token, inputs, outputs=None):
    body = {"inputs": inputs, **({"outputs": outputs} if outputs else {})}
    return requests.post(f"{ogc_url}/processes/{process}/execution", json=body, headers=auth(token), timeout=600)


def b64(path: Path) -> dict:
    return {"value": base64.b64encode(path.read_bytes()).decode(), "encoding": "base64",
            "mediaType": "application/geopackage+sqlite3"}


def test_the_municipal_edition_fails_a_township_package_only_where_the_editions_differ(ogc_url, tokens, package):
    r = execute(ogc_url, "plan-qc", tokens["staff"], {"package": b64(package), "edition": MUNICIPAL}, SUMMARY_ONLY)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert not body["summary"]["passed"]
    failing = {f["rule"] for f in body["findings"]}
    assert failing == {"STRUCT-LAYER", "INDICATOR-TARGET"}
    # the layers the municipal edition requires and the township edition does not, absent here
    township, municipal = editions()[TOWNSHIP], editions()[MUNICIPAL]
    present = set(plan_packages.read(package))
    optional_here = {la.name for la in municipal.layers if la.required and not la.is_pattern
                     and not township.layer(la.name).required}
    assert {f["layer"] for f in body["findings"] if f["rule"] == "STRUCT-LAYER"} == optional_here - present
    # the city's targets, which a township package does not carry: the unit named
    city_units = {f["message_zh"].split("（")[1].split("）")[0] for f in body["findings"]
                  if f["rule"] == "INDICATOR-TARGET"}
    assert city_units and all(len(code) == 6 for code in city_units)


def test_a_township_package_publishes_as_a_version_of_its_township_alone(ogc_url, tokens, package, township, db):
    master_before = db.execute("SELECT plan_version, valid_to FROM plan.plan_version ORDER BY 1").fetchall()
    version = f"{township}-{uuid.uuid4().hex[:8]}"
    valid_from = dt.datetime.now(dt.UTC).replace(microsecond=0)
    r = execute(ogc_url, "township-publish", tokens["staff"],
                {"package": b64(package), "plan_version": version, "valid_from": valid_from.isoformat()},
                {"version": {}, "summary": {}})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["summary"]["passed"] and body["summary"]["edition"] == TOWNSHIP
    features = plan_packages.read(package)
    assert body["version"]["xzqdm"] == township
    assert body["version"]["features"] == {name: len(features[name].rows) for name in ("GHYDYH", "CJGHDY", "CZJSBJ")}
    in_force = db.execute("SELECT count(*) FROM plan.xz_ghydyh WHERE plan_version = %s AND valid_to IS NULL",
                          (version,)).fetchone()[0]
    assert in_force == len(features["GHYDYH"].rows)
    # one version of this township in force, every earlier one ended; the master plan unchanged
    assert db.execute("SELECT array_agg(plan_version) FROM plan.township_version WHERE xzqdm = %s "
                      "AND valid_to IS NULL", (township,)).fetchone()[0] == [version]
    assert db.execute("SELECT plan_version, valid_to FROM plan.plan_version ORDER BY 1").fetchall() == master_before
    r = execute(ogc_url, "township-status", tokens["staff"], {"xzqdm": township})
    [row] = r.json()["townships"]
    assert (row["status"], row["plan_version"]) == ("已质检", version)  # approval (已批复) is recorded by a planner
    assert db.execute("SELECT actor FROM ops.audit WHERE action = 'township-publish' AND target = %s",
                      (f"township_version/{version}",)).fetchone() == ("pytest-staff",)


def test_status_changes_are_audited_and_a_bad_status_is_a_bilingual_400(ogc_url, tokens, township, db):
    note = f"上报 {uuid.uuid4().hex[:6]}"
    r = execute(ogc_url, "township-status", tokens["staff"], {"xzqdm": township, "status": "已上报", "note": note})
    assert r.status_code == 200, r.text[:500]
    [row] = r.json()["townships"]
    assert (row["status"], row["note"], row["changed_by"]) == ("已上报", note, "pytest-staff")
    detail = db.execute("SELECT detail FROM ops.audit WHERE action = 'township-status' AND target = %s "
                        "ORDER BY id DESC LIMIT 1", (f"township/{township}",)).fetchone()[0]
    assert detail["to"] == "已上报" and detail["note"] == note
    listed = execute(ogc_url, "township-status", tokens["staff"], {}).json()["townships"]
    assert {t["xzqdm"] for t in listed} == {r[0] for r in db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡'")}

    r = execute(ogc_url, "township-status", tokens["staff"], {"xzqdm": township, "status": "done"})
    assert r.status_code == 400
    problem = r.json()
    assert problem["field"] == "status" and "已上报" in problem["message_zh"] and "submitted" in problem["message_en"]
    assert db.execute("SELECT status FROM plan.township_status WHERE xzqdm = %s", (township,)).fetchone() == ("已上报",)
    assert execute(ogc_url, "township-status", None, {"xzqdm": township, "status": "已批复"}).status_code == 401


def test_a_target_over_the_citys_allocation_is_a_finding(ogc_url, tokens, package, township, db, tmp_path):
    allocation_km2 = db.execute("SELECT value FROM supervision.indicator_target WHERE code = 'ZB05' "
                                "AND xzqdm = %s AND target_year = 2035", (township,)).fetchone()[0]
    layers = plan_packages.read(package)
    [index] = [i for i, row in enumerate(layers["GHZB"].rows) if row["ZBMC"] == "建设用地总面积"]
    over = round(allocation_km2 * 100 * 1.2, 2)   # km² -> ha, 20 % over
    layers["GHZB"].rows[index]["ZBZ"] = over
    changed = plan_packages.write(tmp_path / "over.gpkg", layers)
    r = execute(ogc_url, "plan-qc", tokens["staff"], {"package": b64(changed)}, SUMMARY_ONLY)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["summary"]["edition"] == TOWNSHIP   # as the package declares it
    [finding] = [f for f in body["findings"] if f["rule"] == "INDICATOR-ALLOCATION"]
    assert finding["feature_id"] == plan_packages.fid(index)
    assert f"{over:,.2f}" in finding["message_zh"] and f"{allocation_km2 * 100:,.2f}" in finding["message_zh"]
    assert "建设用地总面积" in finding["message_zh"] and "allocates" in finding["message_en"]
