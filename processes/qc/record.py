"""A check run recorded (plan.qc_run, ops.audit) with who and when, and its
reports rendered only when someone asks for them: the PDF and the error
layer are filed in the run's row as they are handed out."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.db import connect
from processes.base import Progress, pdf_from_html, quiet
from processes.qc.report import error_layer, report_html
from processes.qc.run import QcResult, run_qc


@dataclass(frozen=True)
class CheckRecord:
    database_url: str
    run_id: int
    result: QcResult


def check_package(database_url: str, package_file: Path, principal: Principal, edition: str | None = None,
                  submission_id: int | None = None, progress: Progress = quiet) -> CheckRecord:
    """Run plan-qc on a package and record the run (plan.qc_run, ops.audit)."""
    result = run_qc(database_url, package_file, edition=edition, progress=progress)
    summary = result.summary()
    with connect(database_url) as conn:
        run_id = conn.execute(
            "INSERT INTO plan.qc_run (submission_id, package_name, package_sha256, edition, passed, errors, "
            "warnings, summary, checked_by, checked_role) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (submission_id, result.package_name, result.package_sha256, result.spec.edition, result.passed,
             result.errors, result.warnings, json.dumps(summary, ensure_ascii=False),
             principal.name, principal.role)).fetchone()[0]
        audit.record(conn, principal, "plan-qc", f"qc_run/{run_id}", 200, result.package_sha256,
                     audit.sha256_hex(json.dumps(summary).encode()),
                     {"passed": result.passed, "errors": result.errors, "warnings": result.warnings,
                      "edition": result.spec.edition})
    return CheckRecord(database_url, run_id, result)


def report_pdf(record: CheckRecord) -> bytes:
    return _file(record, "report_pdf", pdf_from_html(report_html(record.result)))


def error_gpkg(record: CheckRecord) -> bytes:
    with tempfile.TemporaryDirectory(prefix="onemap-qc-errors-") as tmp:
        content = error_layer(record.result, Path(tmp) / "errors.gpkg").read_bytes()
    return _file(record, "error_layer", content)


def _file(record: CheckRecord, column: str, content: bytes) -> bytes:
    with connect(record.database_url) as conn:
        conn.execute(sql.SQL("UPDATE plan.qc_run SET {} = %s WHERE id = %s").format(sql.Identifier(column)),
                     (content, record.run_id))
    return content
