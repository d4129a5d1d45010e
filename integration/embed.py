"""嵌入式案件地图 The embeddable case map of the e-government portal:
/embed/case/{case_id} is a static page (no data in it) that reads the
caller's token (the SSO JWT, or a system token) from the address's
fragment — never sent to a server in a URL — and loads, with it,
/embed/case/{case_id}.json: the case's checks (boundaries), their findings
on the layers the caller may read, and the control layers the caller's
roles may see, drawn as tiles of our own WMTS (MapLibre served by the
gateway: nothing from outside the stack)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from onemap.core.access import AccessPolicy
from onemap.core.auth import Principal, sees_all_jobs
from onemap.core.errors import OneMapError, Problem
from onemap.core.settings import Settings, load_yaml

PROCESS_ID = "compliance-check"  # who may run checks may see their maps


def case_map(conn: psycopg.Connection, case_id: str, principal: Principal, policy: AccessPolicy,
             settings: Settings) -> dict[str, Any]:
    """The case's map data for this caller: its checks (own checks, or all
    for a role that sees all jobs), the findings on layers it may read, and
    the control layers it may see. 404 when it sees no check of the case."""
    problem = policy.check_run(principal, PROCESS_ID)
    if problem is not None:
        raise OneMapError(problem)
    everyone = sees_all_jobs(principal)
    checks = conn.execute(
        "SELECT id, jcbh, ywjd, ydyhdm, jcjl, jcsj, ST_AsGeoJSON(geom, 9) FROM supervision.compliance_check "
        "WHERE ajbh = %s AND (%s OR jcr = %s) ORDER BY jcsj, id", (case_id, everyone, principal.name)).fetchall()
    if not checks:
        raise OneMapError(Problem(404, "NotFound", f"案件 {case_id} 没有您可查看的检测记录",
                                  f"Case {case_id} has no check you may see", field="case_id"))
    findings = conn.execute(
        "SELECT c.jcbh, o.rule, o.layer, o.verdict, o.mj, ST_AsGeoJSON(o.geom, 9) FROM supervision.compliance_overlap o "
        "JOIN supervision.compliance_check c ON c.id = o.check_id WHERE o.check_id = ANY(%s) ORDER BY o.id",
        ([row[0] for row in checks],)).fetchall()
    readable = {layer for layer in {f[2] for f in findings} | set(_control_layers(settings))
                if policy.check_layer(layer, principal) is None}
    return {
        "case_id": case_id,
        "checks": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": json.loads(geom),
             "properties": {"check_id": check_id, "stage": stage, "use_code": use, "verdict": verdict,
                            "checked_at": checked_at.isoformat()}}
            for _, check_id, stage, use, verdict, checked_at, geom in checks]},
        "findings": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": json.loads(geom),
             "properties": {"check_id": check_id, "rule": rule, "layer": layer, "verdict": verdict,
                            "overlap_m2": round(area, 2)}}
            for check_id, rule, layer, verdict, area, geom in findings if layer in readable]},
        "layers": [layer for layer in _control_layers(settings) if layer in readable],
    }


def _control_layers(settings: Settings) -> list[str]:
    """The layers the check report draws (config/compliance.yaml map.layers)."""
    return list(load_yaml(settings.config_dir / "compliance.yaml")["map"]["layers"])
