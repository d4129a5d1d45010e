"""Township plans in the upload to the province (成果上报): with the upload
pointed at a receiver on loopback (the province's endpoint, a real HTTP
server), a township version published here goes up under the township's
code — the manifest's checksums are those of the files the receiver stored
and of the package the check passed — and the stack's gateway, which
delivers, records the province's verdict on the township's status: taken →
已上报 (audited, by the province), rejected → 已质检 with the province's
reason, both visible in `township-status`; /admin/uploads names the unit.
Publishes township versions and changes a township's status: serial."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import uuid
import zipfile

import pytest
import requests

from integration import upload
from integration.standins import SignedReceiver
from onemap.core.auth import Principal
from onemap.demo.township import demo_townships, township_package
from processes.plan.township import publish_township
from tests.conftest import auth
from tests.integration.partners import configured_copy
from tests.integration.test_integration_province import wait_upload

pytestmark = pytest.mark.serial

STAFF = Principal("pytest-staff", "staff")


@pytest.fixture(scope="module")
def province():
    endpoint = SignedReceiver(None).start()  # no secret configured for the province: nothing signed
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def township(database_url, tmp_path_factory, monkeypatch_module, province, db):
    """A demo township, and this process configured to upload to the
    receiver (the township hook reads the configuration ONEMAP_CONFIG names)."""
    settings = configured_copy(tmp_path_factory.mktemp("upload"), lambda partners: partners["province"].update(
        upload_url=f"{province.url}/uploads"))
    monkeypatch_module.setenv("ONEMAP_CONFIG", str(settings.config_dir))
    xzqdm = demo_townships(database_url, 1)[0]
    before = db.execute("SELECT coalesce(max(id), 0) FROM integration.upload").fetchone()[0]
    yield xzqdm, township_package(database_url, xzqdm, tmp_path_factory.mktemp("township") / "township.gpkg")
    db.execute("DELETE FROM integration.outbox WHERE id IN (SELECT message_id FROM integration.upload WHERE id > %s)",
               (before,))
    db.execute("DELETE FROM integration.upload WHERE id > %s", (before,))


def publish(database_url, db, township) -> tuple[str, int]:
    """Publish the township's package as a new version: it and its upload's id."""
    xzqdm, package = township
    version = f"{xzqdm}-up-{uuid.uuid4().hex[:6]}"
    publish_township(database_url, package, version, dt.datetime.now(dt.UTC), STAFF)
    (upload_id,) = db.execute("SELECT id FROM integration.upload WHERE plan_version = %s", (version,)).fetchone()
    return version, upload_id


def status(ogc_url, token, xzqdm) -> dict:
    r = requests.post(f"{ogc_url}/processes/township-status/execution", json={"inputs": {"xzqdm": xzqdm}},
                      headers=auth(token), timeout=120)
    assert r.status_code == 200, r.text[:500]
    return r.json()["townships"][0]


def test_a_township_version_goes_up_under_its_code_and_sets_submitted(database_url, db, township, province,
                                                                      ogc_url, base_url, tokens):
    xzqdm, package = township
    province.status, province.answer = 200, {"status": "accepted"}
    version, upload_id = publish(database_url, db, township)
    assert wait_upload(db, upload_id, "accepted")[1] is None

    [call] = [c for c in province.calls if c["key"] == f"upload:{upload_id}"]
    stored = zipfile.ZipFile(io.BytesIO(call["raw"]))
    manifest = json.loads(stored.read(upload.MANIFEST))
    assert (manifest["unit_code"], manifest["plan_version"], manifest["edition"]) == (xzqdm, version, "township-2024")
    assert [f["name"] for f in manifest["files"]] == [n for n in stored.namelist() if n != upload.MANIFEST]
    for entry in manifest["files"]:
        content = stored.read(entry["name"])
        assert hashlib.sha256(content).hexdigest() == entry["sha256"] and len(content) == entry["size"]
    # the file that went up is the package that passed the township check
    checked = db.execute("SELECT package_sha256 FROM plan.township_version WHERE plan_version = %s",
                         (version,)).fetchone()[0]
    assert [f["sha256"] for f in manifest["files"]] == [checked] == [hashlib.sha256(package.read_bytes()).hexdigest()]

    row = status(ogc_url, tokens["staff"], xzqdm)
    assert (row["status"], row["plan_version"], row["changed_by"]) == ("已上报", version, "partner:province")
    assert f"上报 {upload_id}" in row["note"]
    detail = db.execute("SELECT detail FROM ops.audit WHERE action = 'township-status' AND target = %s "
                        "ORDER BY id DESC LIMIT 1", (f"township/{xzqdm}",)).fetchone()[0]
    assert (detail["from"], detail["to"]) == ("已质检", "已上报")  # the publish set 已质检

    listed = requests.get(f"{base_url}/admin/uploads", headers=auth(tokens["admin"]), timeout=30)
    assert listed.status_code == 200, listed.text[:300]
    [mine] = [u for u in listed.json()["uploads"] if u["id"] == upload_id]
    name = db.execute("SELECT xzqmc FROM base.xzq WHERE xzqdm = %s", (xzqdm,)).fetchone()[0]
    assert (mine["unit_code"], mine["unit_name"], mine["state"]) == (xzqdm, name, "accepted")
    assert requests.get(f"{base_url}/admin/uploads", headers=auth(tokens["staff"]), timeout=30).status_code == 403
    assert requests.get(f"{base_url}/admin/uploads", timeout=30).status_code == 401
    bad = requests.get(f"{base_url}/admin/uploads", params={"state": "lost"}, headers=auth(tokens["admin"]),
                       timeout=30)
    assert bad.status_code == 400 and bad.json()["field"] == "state"


def test_a_rejection_leaves_the_township_checked_with_the_provinces_reason(database_url, db, township, province,
                                                                           ogc_url, tokens):
    xzqdm, _ = township
    reason = "村庄建设边界与生态保护红线重叠 / a village boundary overlaps the red line"
    province.status, province.answer = 422, {"reason": reason}
    version, upload_id = publish(database_url, db, township)
    assert wait_upload(db, upload_id, "rejected")[1] == reason
    row = status(ogc_url, tokens["staff"], xzqdm)
    assert (row["status"], row["plan_version"], row["changed_by"]) == ("已质检", version, "partner:province")
    assert reason in row["note"]
