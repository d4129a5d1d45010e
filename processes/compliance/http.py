"""Report downloads at the gateway: /reports/compliance/{check_id}.{json,
geojson,html,pdf} (the result, the overlap geometries, the reports). The
history itself is the internal OGC API Features collection HGJC."""

from __future__ import annotations

import json

from flask import Blueprint, Response, g

from onemap.core.access import AccessPolicy
from onemap.core.auth import sees_all_jobs
from onemap.core.errors import OneMapError, Problem
from onemap.core.settings import Settings
from processes.compliance import service, store


def blueprint(settings: Settings, policy: AccessPolicy) -> Blueprint:
    """The download routes, for the roles that may run the check."""
    bp = Blueprint("compliance_reports", __name__)

    @bp.get("/reports/compliance/<check_id>.<fmt>")
    def download(check_id: str, fmt: str) -> Response:
        principal = g.principal
        problem = policy.check_run(principal, store.PROCESS_ID)
        if problem is not None:
            raise OneMapError(problem)
        url = settings.database_url
        stored = service.find(url, check_id)
        if stored.checked_by != principal.name and not sees_all_jobs(principal):
            # as for jobs: another caller's check is not there for this one
            raise OneMapError(Problem(404, "NotFound", f"检测记录 {check_id} 不存在", f"No check {check_id}",
                                      field="checkId"))
        if fmt == "json":
            body = json.dumps(stored.result, ensure_ascii=False)
            return Response(body, content_type="application/json; charset=utf-8")
        if fmt == "geojson":
            with service.pool(url).connection() as conn:
                body = json.dumps(store.overlaps(conn, stored.pk), ensure_ascii=False)
            return Response(body, content_type="application/geo+json; charset=utf-8")
        if fmt not in service.REPORT_FORMATS:
            raise OneMapError(Problem(404, "NotFound", "格式应为 json、geojson、html 或 pdf",
                                      "The format must be json, geojson, html or pdf", field="format"))
        content = service.report_bytes(url, check_id, fmt, settings.base_url)
        response = Response(content, content_type=service.REPORT_FORMATS[fmt])
        if fmt == "pdf":
            response.headers["Content-Disposition"] = f'inline; filename="{check_id}.pdf"'
        return response

    return bp


def health() -> str:
    """/healthz: the rule sets and the compatibility matrix load."""
    from processes.compliance.check import load_config

    config = load_config()
    stages = sum(len(r.stages) for r in config.rule_sets.values())
    return f"{len(config.rule_sets)} rule sets, {stages} stages"
