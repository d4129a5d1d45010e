"""The check history (合规性检测记录): every check with its overlaps and
reports, and its line in the audit trail, written in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from onemap.core import audit
from onemap.core.auth import Principal
from processes.compliance.boundary import Boundary
from processes.compliance.check import canonical_sha256

PROCESS_ID = "compliance-check"
VERIFICATION = {
    "zh": "结果哈希为 result 去掉 verification 成员后、按键排序且无空白的 UTF-8 JSON 的 SHA-256",
    "en": "SHA-256 of the result without its verification member, as UTF-8 JSON with sorted keys and no whitespace",
}


def new_check_id(now: dt.datetime | None = None) -> str:
    """检测编号: HG + date and time + random, readable on paper."""
    now = now or dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    return f"HG{now:%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}"


def input_sha256(inputs: dict[str, Any]) -> str:
    return canonical_sha256(inputs)


def save(conn: psycopg.Connection, result: dict[str, Any], overlaps: dict[str, Any], boundary: Boundary,
         principal: Principal, job_id: str | None, inputs_sha256: str) -> StoredCheck:
    """Store a check; return it with the verification hash. `result` must
    carry its check_id already (it is part of what the hash covers)."""
    digest = canonical_sha256(result)
    with conn.transaction():
        pk = conn.execute(
            """INSERT INTO supervision.compliance_check
                   (jcbh, ajbh, xmmc, ywjd, ydyhdm, jcjl, xmmj, gzjbb, jcsj, jcr, rwbh, srhx, jghx, result, geom)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, ST_GeomFromWKB(%s, 4490))
               RETURNING id""",
            (result["check_id"], result["case_id"] or None, result["project_name"] or None, result["stage"],
             result["use_code"], result["verdict"], result["boundary"]["area_m2"],
             f"{result['rule_set']['id']} {result['rule_set']['version']}", result["checked_at"], principal.name,
             job_id, inputs_sha256, digest, Jsonb(result), boundary.geometry.wkb)).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO supervision.compliance_overlap (check_id, rule, layer, kind, feature_id, verdict, mj, geom)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490))""",
                [(pk, f["properties"]["rule"], f["properties"]["layer"], f["properties"]["kind"],
                  f["properties"]["feature_id"], f["properties"]["verdict"], f["properties"]["overlap_m2"],
                  json.dumps(f["geometry"])) for f in overlaps["features"]])
        audit.record(conn, principal, "EXECUTE", f"/processes/{PROCESS_ID}/{result['check_id']}", 200,
                     inputs_sha256, digest,
                     {"process": PROCESS_ID, "check_id": result["check_id"], "job_id": job_id,
                      "case_id": result["case_id"], "verdict": result["verdict"]})
    return StoredCheck(pk=pk, check_id=result["check_id"], result=with_verification(result, digest),
                       boundary_geojson=boundary.geometry.__geo_interface__, checked_by=principal.name)


def with_verification(result: dict[str, Any], digest: str) -> dict[str, Any]:
    return {**result, "verification": {"sha256": digest, "method": VERIFICATION}}


@dataclass(frozen=True)
class StoredCheck:
    pk: int
    check_id: str
    result: dict[str, Any]          # with its verification member
    boundary_geojson: dict[str, Any]
    checked_by: str                 # 检测人: whose check it is (reports follow job ownership)


def load(conn: psycopg.Connection, check_id: str) -> StoredCheck | None:
    row = conn.execute(
        "SELECT id, jcbh, result, jghx, ST_AsGeoJSON(geom, 9), jcr FROM supervision.compliance_check "
        "WHERE jcbh = %s",
        (check_id,)).fetchone()
    if row is None:
        return None
    return StoredCheck(pk=row[0], check_id=row[1], result=with_verification(row[2], row[3]),
                       boundary_geojson=json.loads(row[4]), checked_by=row[5])


def overlaps(conn: psycopg.Connection, pk: int) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT rule, layer, kind, feature_id, verdict, mj, ST_AsGeoJSON(geom, 9) FROM supervision.compliance_overlap "
        "WHERE check_id = %s ORDER BY id", (pk,)).fetchall()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(r[6]),
         "properties": {"rule": r[0], "layer": r[1], "kind": r[2], "feature_id": r[3], "verdict": r[4],
                        "overlap_m2": r[5]}} for r in rows]}


def report(conn: psycopg.Connection, pk: int, fmt: str) -> bytes | None:
    row = conn.execute("SELECT content FROM supervision.compliance_report WHERE check_id = %s AND format = %s",
                       (pk, fmt)).fetchone()
    return bytes(row[0]) if row else None


def save_report(conn: psycopg.Connection, pk: int, fmt: str, content: bytes) -> bytes:
    """Store a rendered report once; a report already stored stays as it was
    (and is returned), so a report filed as evidence never changes."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO supervision.compliance_report (check_id, format, content, sha256) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (check_id, format) DO NOTHING", (pk, fmt, content, hashlib.sha256(content).hexdigest()))
        return bytes(conn.execute("SELECT content FROM supervision.compliance_report WHERE check_id = %s "
                                  "AND format = %s", (pk, fmt)).fetchone()[0])
