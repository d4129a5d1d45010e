"""The provincial platform stood in by real programs on loopback: a second
pycsw with CSW-T — a sync pushes our records (same identifiers, parseable
ISO 19139) through the outbox, delivered by the gateway's worker; a record
changed in our catalogue is updated there, a removed one deleted, a
restored one inserted again —
and an HTTP receiver of plan uploads, which accepts one (the manifest's
checksums match the files it stored) and rejects another with a reason;
the province's own records are harvested into ours, read-only."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import zipfile
from dataclasses import replace

import pytest
from owslib.catalogue.csw2 import CatalogueServiceWeb

from catalogue import service
from catalogue.directory import CatalogueError
from catalogue.harvest import harvest
from integration import province, upload
from integration.config import IntegrationConfig
from integration.standins import SignedReceiver
from onemap.core.daemon import stop_pid
from onemap.core.settings import Settings
from onemap.stack import free_port
from tests.conftest import auth
from tests.integration.test_catalogue import _test_record

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

GMD = "http://www.isotc211.org/2005/gmd"


@pytest.fixture(scope="module")
def settings():
    return Settings.from_env()


@pytest.fixture(scope="module")
def standin(settings, database_url, db):
    """The province's CSW: its own pycsw process, configuration and repository."""
    pidfile = settings.run_dir / "standin-province.pid"
    yield service.serve_partner(settings, database_url, "province", "province_standin", free_port(), pidfile)
    stop_pid(pidfile)
    db.execute("DROP SCHEMA province_standin CASCADE")
    db.execute("DELETE FROM integration.province_record")
    db.execute("DELETE FROM integration.outbox WHERE partner = 'province'")


@pytest.fixture(scope="module")
def config(settings, standin) -> IntegrationConfig:
    """Our configuration pointed at the stand-in (as an operator sets csw_url)."""
    loaded = IntegrationConfig.load(settings.config_dir)
    return replace(loaded, partners={**loaded.partners,
                                     "province": {**loaded.partners["province"], "csw_url": standin}})


def ours(db, prefix):
    return {row[0]: row[1] for row in db.execute(
        "SELECT identifier, xml FROM catalogue.records WHERE starts_with(identifier, %s)", (prefix,))}


def theirs(db):
    return {row[0] for row in db.execute("SELECT identifier FROM province_standin.records")}


def wait_delivered(db, timeout=600):  # a hang guard, not a time limit
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = db.execute("SELECT state, count(*), max(last_error) FROM integration.outbox "
                             "WHERE partner = 'province' AND state <> 'sent' GROUP BY state").fetchall()
        if not waiting:
            return
        assert not [w for w in waiting if w[0] == "dead"], waiting
        time.sleep(0.3)
    raise AssertionError(f"still waiting: {waiting}")


def test_records_are_pushed_updated_removed_and_restored_at_the_province(db, config, base_url, tokens, standin):
    prefix = config.partners["province"]["push_prefix"]
    records = ours(db, prefix)
    assert len(records) > 100
    counts = province.sync(db, config)
    assert counts == {"csw-insert": len(records), "csw-update": 0, "csw-delete": 0}
    assert province.sync(db, config) == dict.fromkeys(counts, 0)  # nothing changed: nothing queued
    wait_delivered(db)
    assert theirs(db) == set(records)
    layer_id = f"{prefix}layer.JSXM"
    csw = CatalogueServiceWeb(standin, timeout=60)
    csw.getrecordbyid([layer_id], outputschema=GMD, esn="full")
    assert csw.records[layer_id].identifier == layer_id  # ISO 19139 that OWSLib parses

    # our record changes, is removed, comes back (CSW-T on our catalogue, as an administrator)
    admin = CatalogueServiceWeb(f"{base_url}/csw", headers=auth(tokens["admin"]), timeout=60)
    original = records[layer_id]
    changed = re.sub(r"(<gmd:title[^>]*>\s*<gco:CharacterString>)", r"\g<1>修订 revised ", original, count=1)
    assert changed != original
    admin.transaction(ttype="update", typename="gmd:MD_Metadata", record=changed.encode("utf-8"))
    assert province.sync(db, config) == {"csw-insert": 0, "csw-update": 1, "csw-delete": 0}
    wait_delivered(db)
    assert "修订 revised" in db.execute("SELECT anytext FROM province_standin.records WHERE identifier = %s",
                                      (layer_id,)).fetchone()[0]
    admin.transaction(ttype="delete", typename="csw:Record", cql=f"dc:identifier = '{layer_id}'")
    try:
        assert province.sync(db, config) == {"csw-insert": 0, "csw-update": 0, "csw-delete": 1}
        wait_delivered(db)
        assert layer_id not in theirs(db) and theirs(db) == set(ours(db, prefix))
    finally:
        admin.transaction(ttype="insert", typename="gmd:MD_Metadata", record=original.encode("utf-8"))
    assert province.sync(db, config) == {"csw-insert": 1, "csw-update": 0, "csw-delete": 0}
    wait_delivered(db)
    assert theirs(db) == set(ours(db, prefix))
    assert not db.execute("SELECT 1 FROM integration.outbox WHERE partner = 'province' AND state <> 'sent'"
                          ).fetchone()


@pytest.fixture
def submission(db, tmp_path):
    """A submission as plan-submit leaves one that passed its check (the
    upload sends the kept package as it is; the check is not under test)."""
    package = tmp_path / "upload-test.gpkg"
    package.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)
    (submission_id,) = db.execute(
        "INSERT INTO plan.submission (title, package_name, package_sha256, package_path, edition, passed, "
        "submitted_by) VALUES ('上报测试 upload test', %s, %s, %s, '2023', true, 'pytest') RETURNING id",
        (package.name, hashlib.sha256(package.read_bytes()).hexdigest(), str(package))).fetchone()
    yield submission_id
    db.execute("DELETE FROM integration.upload WHERE submission_id = %s", (submission_id,))
    db.execute("DELETE FROM plan.submission WHERE id = %s", (submission_id,))


def test_a_plan_version_upload_is_accepted_or_rejected_with_the_reason(db, settings, database_url, submission):
    receiver = SignedReceiver(None).start()  # the province has no secret configured: nothing signed
    loaded = IntegrationConfig.load(settings.config_dir)
    config = replace(loaded, partners={**loaded.partners, "province": {
        **loaded.partners["province"], "upload_url": f"{receiver.url}/uploads"}})
    try:
        receiver.answer = {"status": "accepted"}
        accepted = upload.queue(database_url, config, submission, "pytest-upload-1")
        assert wait_upload(db, accepted, "accepted")[1] is None
        stored = zipfile.ZipFile(io.BytesIO(receiver.calls[-1]["raw"]))
        manifest = json.loads(stored.read(upload.MANIFEST))
        assert manifest["plan_version"] == "pytest-upload-1"
        assert manifest["unit_code"] == loaded.partners["province"]["unit_code"] and manifest["edition"] == "2023"
        assert [f["name"] for f in manifest["files"]] == [n for n in stored.namelist() if n != upload.MANIFEST]
        for entry in manifest["files"]:
            content = stored.read(entry["name"])
            assert hashlib.sha256(content).hexdigest() == entry["sha256"] and len(content) == entry["size"]

        receiver.status, receiver.answer = 422, {"reason": "缺少规划说明书 / the planning report is missing"}
        rejected = upload.queue(database_url, config, submission, "pytest-upload-2")
        state, reason = wait_upload(db, rejected, "rejected", message_state="dead")  # final: not tried again
        assert reason == "缺少规划说明书 / the planning report is missing"
    finally:
        receiver.stop()


def wait_upload(db, upload_id, state, message_state=None, timeout=600):  # a hang guard, not a time limit
    """The upload's state and reason once it is `state` (and its outbox
    message `message_state`: the delivery's outcome is written after the
    verdict)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = db.execute("SELECT u.state, u.reason, o.state FROM integration.upload u "
                           "LEFT JOIN integration.outbox o ON o.id = u.message_id WHERE u.id = %s",
                           (upload_id,)).fetchone()
        if found[0] == state and message_state in (None, found[2]):
            return found[:2]
        time.sleep(0.3)
    raise AssertionError(f"upload {upload_id}: {found}")


def test_the_provinces_own_records_are_harvested_read_only(db, settings, standin, config):
    theirs_id = "cn.gov.hunan.gtkj.kzx.0001"
    province_csw = CatalogueServiceWeb(standin, timeout=60)
    province_csw.transaction(ttype="insert", typename="gmd:MD_Metadata", record=_test_record(theirs_id))
    ours_before = ours(db, config.partners["province"]["push_prefix"])
    counts = harvest(settings, standin, "cn.gov.hunan.")
    assert counts == {"inserted": 1, "updated": 0, "deleted": 0}  # ours, held there too, are not taken back
    assert db.execute("SELECT title FROM catalogue.records WHERE identifier = %s", (theirs_id,)).fetchone()
    assert ours(db, config.partners["province"]["push_prefix"]) == ours_before
    assert province.sync(db, config) == {"csw-insert": 0, "csw-update": 0, "csw-delete": 0}  # not pushed back
    with pytest.raises(CatalogueError):
        harvest(settings, standin, "cn.gov.")  # a prefix over ours would replace our records: refused
    province_csw.transaction(ttype="delete", typename="csw:Record", cql=f"dc:identifier = '{theirs_id}'")
    assert harvest(settings, standin, "cn.gov.hunan.")["deleted"] == 1
    assert not db.execute("SELECT 1 FROM catalogue.records WHERE identifier = %s", (theirs_id,)).fetchone()
