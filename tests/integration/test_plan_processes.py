"""plan-qc and results management over HTTP, as the e-government system and
staff use them: upload, base64 value, href; async jobs with progress;
broken inputs; who may do what; the audit trail."""

from __future__ import annotations

import base64
import http.server
import io
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
import requests

from tests import plan_packages as pp
from tests.conftest import auth


@pytest.fixture(scope="module")
def package(plan_package) -> Path:
    return plan_package


def execute(ogc_url, process, token, inputs, **kwargs):
    return requests.post(f"{ogc_url}/processes/{process}/execution", json={"inputs": inputs},
                         headers=auth(token), timeout=600, **kwargs)


def b64(content: bytes, media: str = "application/geopackage+sqlite3") -> dict:
    return {"value": base64.b64encode(content).decode(), "encoding": "base64", "mediaType": media}


def test_upload_a_clean_package_gives_every_output(ogc_url, tokens, package, db, tmp_path):
    with open(package, "rb") as f:
        r = requests.post(f"{ogc_url}/processes/plan-qc/upload", files={"file": ("plan.gpkg", f)},
                          headers=auth(tokens["staff"]), timeout=600)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    summary = body["summary"]
    assert summary["passed"] and summary["verdict_zh"] == "合格" and summary["errors"] == 0
    assert body["findings"] == [] and not any(rule["count"] for rule in summary["by_rule"])
    assert {la["name"] for la in summary["layers"]} >= {"XZQ", "GHYDYH", "STBHHX", "YJJBNT", "CZKFBJ", "GHZB"}
    # level-3 codes (六位: 070101, 100101 …) are codes of the classification like any other
    assert any(len(r["YDYHDM"]) == 6 for r in pp.read(package)["GHYDYH"].rows)
    page = base64.b64decode(body["report_html"]["value"]).decode("utf-8")
    assert "规划成果质检报告" in page and "<svg" in page
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(base64.b64decode(body["report_pdf"]["value"]))
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert rows and all("yes" in row[-5:-2] for row in rows)  # every font embedded: a CJK font
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "规划成果质检报告" in text and "合格" in text
    assert base64.b64decode(body["error_layer"]["value"]).startswith(b"SQLite format 3")
    run = db.execute("SELECT passed, checked_by, checked_role FROM plan.qc_run WHERE id = %s",
                     (body["qc_run"],)).fetchone()
    assert run == (True, "pytest-staff", "staff")


def test_a_defective_package_by_base64_names_rule_feature_and_place(ogc_url, tokens, package, tmp_path):
    # one township's parcels and outline: a small package (seconds to check,
    # not a whole city's), failing on its missing layers and the bad code
    layers = pp.read(package)
    gh, xzq = layers["GHYDYH"], layers["XZQ"]
    township = gh.rows[0]["XZQDM"]
    keep = [i for i, row in enumerate(gh.rows) if row["XZQDM"] == township]
    gh.rows, gh.geoms = [gh.rows[i] for i in keep], [gh.geoms[i] for i in keep]
    [unit] = [i for i, row in enumerate(xzq.rows) if row["XZQDM"] == township]
    xzq.rows, xzq.geoms = [xzq.rows[unit]], [xzq.geoms[unit]]
    gh.rows[0]["YDYHDM"] = "9999"
    bad = pp.write(tmp_path / "bad.gpkg", {"XZQ": xzq, "GHYDYH": gh})
    r = execute(ogc_url, "plan-qc", tokens["admin"], {"package": b64(bad.read_bytes())})
    body = r.json()
    assert r.status_code == 200 and not body["summary"]["passed"]
    [finding] = [f for f in body["findings"] if f["rule"] == "ATTR-CODE"]
    assert finding["layer"] == "GHYDYH" and finding["feature_id"] == "1" and finding["geometry"]["type"]
    assert "9999" in finding["message_zh"] and "9999" in finding["message_en"]


def _lock_waiters(db, table: str) -> list:
    return db.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                      (f"%{table}%",)).fetchall()


def test_href_input_and_async_job_with_progress(ogc_url, tokens, package, database_url, db):
    directory = package.parent
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(directory), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The run's record waits behind this lock: the job is held half-way, so
    # its progress is seen between accepted and done however fast it runs.
    blocker = psycopg.connect(database_url)
    blocker.execute("LOCK TABLE plan.qc_run IN SHARE MODE")
    try:
        href = f"http://127.0.0.1:{server.server_address[1]}/{package.name}"
        r = requests.post(f"{ogc_url}/processes/plan-qc/execution",
                          json={"inputs": {"package": {"href": href}}, "outputs": {"summary": {}}},
                          headers={**auth(tokens["staff"]), "Prefer": "respond-async"}, timeout=60)
        assert r.status_code == 201, r.text
        job = r.headers["Location"].rsplit("/", 1)[1]

        def status() -> dict:
            return requests.get(f"{ogc_url}/jobs/{job}", params={"f": "json"},
                                headers=auth(tokens["staff"]), timeout=30).json()

        while not _lock_waiters(db, "qc_run"):
            assert status()["status"] in ("accepted", "running"), status()
            time.sleep(0.2)
        held = status()
        assert held["status"] == "running" and 0 < held["progress"] < 100, held
        blocker.rollback()  # the job goes on
        while (done := status())["status"] not in ("successful", "failed"):
            time.sleep(0.2)
        assert done["status"] == "successful" and done["progress"] == 100, done
        result = requests.get(f"{ogc_url}/jobs/{job}/results", params={"f": "json"},
                              headers=auth(tokens["staff"]), timeout=60).json()
        assert result["summary"]["passed"] and "report_pdf" not in result  # only the output asked for
    finally:
        blocker.close()
        server.shutdown()


def _zip(members: dict[str, bytes], level: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", level) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _shapefile_without_prj(package: Path, tmp_path: Path) -> bytes:
    zipped = export_package_zip(package, tmp_path)
    with zipfile.ZipFile(zipped) as source:
        return _zip({n: source.read(n) for n in source.namelist() if not n.startswith("XZQ.prj")})


def export_package_zip(package: Path, tmp_path: Path) -> Path:
    out = tmp_path / "shp"
    subprocess.run(["ogr2ogr", "-f", "ESRI Shapefile", str(out), str(package), "XZQ", "GHYDYH"], check=True,
                   capture_output=True)
    archive = tmp_path / "plan.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in out.iterdir():
            z.write(p, p.name)
    return archive


BROKEN = {
    "not a geopackage": (lambda pkg, tmp: b"this is not a package at all", 415),
    "an empty zip": (lambda pkg, tmp: _zip({}), 400),
    "a zip bomb": (lambda pkg, tmp: _zip({"GHYDYH.shp": b"\0" * (300 * 1024 * 1024)}), 413),
    "a shapefile without .prj": (_shapefile_without_prj, 400),
    "a corrupt geopackage": (lambda pkg, tmp: pkg.read_bytes()[:4096], 415),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_inputs_are_bilingual_4xx_and_store_nothing(ogc_url, tokens, package, tmp_path, db, case):
    make, status = BROKEN[case]
    runs = db.execute("SELECT count(*) FROM plan.qc_run").fetchone()[0]
    r = execute(ogc_url, "plan-qc", tokens["staff"], {"package": b64(make(package, tmp_path))})
    assert r.status_code == status, r.text[:300]
    body = r.json()
    assert body["message_zh"] and body["message_en"] and body.get("field")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"])
    assert db.execute("SELECT count(*) FROM plan.qc_run").fetchone()[0] == runs
    assert db.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'qc\\_%'").fetchone()[0] == 0


def test_a_huge_package_is_refused_before_it_is_read(base_url, tokens):
    """A request body above the gateway's limit: 413 from its Content-Length."""
    import http.client
    from urllib.parse import urlparse

    url = urlparse(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", "/ogc/processes/plan-qc/upload")
    conn.putheader("Authorization", f"Bearer {tokens['staff']}")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(5 * 1024 ** 3))
    conn.endheaders()
    response = conn.getresponse()
    body = response.read().decode()
    assert response.status == 413 and "MB" in body and "message_zh" in body


def test_only_staff_and_admin_check_submit_and_publish(ogc_url, tokens, package):
    for process in ("plan-qc", "plan-submit", "plan-publish"):
        r = execute(ogc_url, process, tokens["egov"], {})
        assert r.status_code == 403 and r.json()["message_zh"]
        r = execute(ogc_url, process, None, {})
        assert r.status_code == 401


def test_submit_then_check_and_audit(ogc_url, tokens, package, db):
    r = execute(ogc_url, "plan-submit", tokens["staff"],
                {"package": b64(package.read_bytes()), "title": "测试提交", "outputs": None})
    assert r.status_code == 200, r.text[:300]
    sid = r.json()["submission_id"]
    row = db.execute("SELECT submitted_by, passed, title FROM plan.submission WHERE id = %s", (sid,)).fetchone()
    assert row == ("pytest-staff", True, "测试提交")
    actions = {a for (a,) in db.execute("SELECT action FROM ops.audit WHERE actor = 'pytest-staff' "
                                        "AND action LIKE 'plan-%%'")}
    assert {"plan-submit", "plan-qc"} <= actions
    bad = execute(ogc_url, "plan-publish", tokens["staff"],
                  {"submission_id": sid, "plan_version": "x", "valid_from": "not a time"})
    assert bad.status_code == 400 and bad.json()["field"] == "valid_from"
