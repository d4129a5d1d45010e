"""A check from inputs to stored record, and its reports: what the OGC API
process, the report downloads and the CLI share."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from psycopg_pool import ConnectionPool

from onemap.core.auth import Principal
from onemap.core.db import open_pool
from onemap.core.errors import OneMapError, Problem
from processes.base import Progress, pdf_from_html, quiet
from processes.compliance import boundary as boundary_input
from processes.compliance import report, store
from processes.compliance.check import load_config, request_from_inputs, run_check
from processes.compliance.store import StoredCheck

REPORT_FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


@cache
def pool(database_url: str) -> ConnectionPool:
    """Connections for checks, one pool per process and database."""
    return open_pool(database_url, "onemap-compliance")


@dataclass(frozen=True)
class Checked:
    stored: StoredCheck
    overlaps: dict[str, Any]


def check(database_url: str, inputs: dict[str, Any], principal: Principal, job_id: str | None = None,
          progress: Progress = quiet) -> Checked:
    """Validate the inputs, run the check, store it (with its audit line).
    Bad input raises OneMapError before anything is written."""
    config = load_config()
    request, rule_set = request_from_inputs(inputs, config)
    boundary = boundary_input.from_inputs(inputs, int(config.limits["max_parcels"]))
    progress(30, "叠加分析 / overlay")
    with pool(database_url).connection() as conn:
        result, overlaps = run_check(conn, boundary, request, rule_set, config)
        result = {"check_id": store.new_check_id(), "job_id": job_id,
                  "input_sha256": store.input_sha256(inputs), **result}
        progress(70, "保存检测记录 / storing the check")
        stored = store.save(conn, result, overlaps, boundary, principal, job_id, result["input_sha256"])
    return Checked(stored=stored, overlaps=overlaps)


def find(database_url: str, check_id: str) -> StoredCheck:
    with pool(database_url).connection() as conn:
        stored = store.load(conn, check_id)
    if stored is None:
        raise OneMapError(Problem(404, "NotFound", f"检测记录 {check_id} 不存在", f"No check {check_id}",
                                  field="checkId"))
    return stored


def report_bytes(database_url: str, check_id: str, fmt: str, base_url: str) -> bytes:
    """The stored report of a check, rendered and stored on first request."""
    stored = find(database_url, check_id)
    with pool(database_url).connection() as conn:
        existing = store.report(conn, stored.pk, fmt)
        if existing is not None:
            return existing
        overlaps = store.overlaps(conn, stored.pk)
    html = report.render_html(stored.result, stored.boundary_geojson, overlaps, load_config().map,
                              result_url=f"{base_url}{report_path(check_id, 'json')}")
    content = html.encode("utf-8") if fmt == "html" else pdf_from_html(html)
    with pool(database_url).connection() as conn:
        return store.save_report(conn, stored.pk, fmt, content)


def report_path(check_id: str, fmt: str) -> str:
    """Where the gateway serves a check's result (json), overlaps (geojson)
    and reports (html, pdf)."""
    return f"/reports/compliance/{check_id}.{fmt}"
