"""公众监督 Reports of suspected violations: a location, a description and
up to three photos; the reporter gets a tracking number (unguessable: it is
the only key to the report's status) and staff move the report through
received → verifying → confirmed → closed, each step with a note."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from onemap.core.errors import invalid
from processes.participation import text
from processes.participation.photos import Photo

MAX_TEXT = 2000
MAX_PHOTOS = 3
STATUSES = {"received": ("已受理", "received"), "verifying": ("核查中", "verifying"),
            "confirmed": ("已查实", "confirmed"), "closed": ("已办结", "closed")}
# a report found unfounded is closed straight from verifying
NEXT = {"received": ("verifying",), "verifying": ("confirmed", "closed"), "confirmed": ("closed",), "closed": ()}
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out on the phone


def tracking_number(today: dt.date) -> str:
    return f"JB{today:%Y%m%d}-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def submit(conn: psycopg.Connection, data: dict[str, Any], photos: Sequence[Photo], by: str) -> dict[str, Any]:
    """Store a report (its photos already cleaned) and its first step."""
    description = text.plain_text(data, "description", "举报内容", "description", MAX_TEXT)
    lon, lat = text.point_in_city(conn, data, True, "举报")
    if len(photos) > MAX_PHOTOS:
        raise invalid("photos", f"照片最多 {MAX_PHOTOS} 张", f"At most {MAX_PHOTOS} photos")
    number = tracking_number(dt.date.today())
    (pk,) = conn.execute(
        "INSERT INTO supervision.violation_report (cxbh, jbnr, geom) "
        "VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4490)) RETURNING id",
        (number, description, lon, lat)).fetchone()
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO supervision.violation_photo (report, position, media_type, content) "
                        "VALUES (%s, %s, %s, %s)",
                        [(pk, n, photo.media_type, photo.content) for n, photo in enumerate(photos, 1)])
    conn.execute("INSERT INTO supervision.violation_step (report, status, by_whom) VALUES (%s, 'received', %s)",
                 (pk, by))
    return {"id": pk, "tracking_number": number, "status": "received", "photos": len(photos)}


def _steps(conn: psycopg.Connection, report_id: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT status, note, at::text AS at FROM supervision.violation_step "
                           "WHERE report = %s ORDER BY id", (report_id,)).fetchall()


def status(conn: psycopg.Connection, number: str) -> dict[str, Any]:
    """What the reporter sees by the tracking number: the status and each
    step with its note (no location, text or photos: the number may be
    shared)."""
    row = conn.execute("SELECT id, status, jbsj::date::text FROM supervision.violation_report WHERE cxbh = %s",
                       (number.strip().upper(),)).fetchone()
    if row is None:
        raise invalid("tracking_number", f"查询编号 {number} 不存在", f"No report with tracking number {number}",
                      status=404)
    return {"tracking_number": number.strip().upper(), "status": row[1], "status_zh": STATUSES[row[1]][0],
            "reported": row[2], "steps": _steps(conn, row[0])}


def for_triage(conn: psycopg.Connection, status_filter: str | None) -> list[dict[str, Any]]:
    if status_filter is not None and status_filter not in STATUSES:
        raise invalid("status", f"状态应为 {'、'.join(STATUSES)} 之一", f"status must be one of {', '.join(STATUSES)}")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT r.id, r.cxbh, r.jbnr, r.status, r.jbsj::text AS jbsj, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat,
                      (SELECT count(*) FROM supervision.violation_photo p WHERE p.report = r.id) AS photos
               FROM supervision.violation_report r WHERE %(s)s::text IS NULL OR r.status = %(s)s ORDER BY r.id""",
            {"s": status_filter}).fetchall()
    for row in rows:
        row["steps"] = _steps(conn, row["id"])
    return rows


def triage(conn: psycopg.Connection, report_id: int, data: dict[str, Any], by: str) -> dict[str, Any]:
    """Move a report to its next status ({status, note}); the row is locked
    so two staff members cannot both move it from the same status."""
    target = data.get("status")
    note = text.plain_text(data, "note", "处理说明", "note", MAX_TEXT)
    row = conn.execute("SELECT status FROM supervision.violation_report WHERE id = %s FOR UPDATE",
                       (report_id,)).fetchone()
    if row is None:
        raise invalid("id", f"举报 {report_id} 不存在", f"No report {report_id}", status=404)
    if target not in NEXT[row[0]]:
        allowed = NEXT[row[0]]
        raise invalid("status", f"“{STATUSES[row[0]][0]}”之后只能转为：{'、'.join(STATUSES[s][0] for s in allowed) or '无'}",
                      f"From {row[0]} a report moves to: {', '.join(allowed) or 'nothing'}", status=409)
    conn.execute("UPDATE supervision.violation_report SET status = %s WHERE id = %s", (target, report_id))
    conn.execute("INSERT INTO supervision.violation_step (report, status, note, by_whom) VALUES (%s, %s, %s, %s)",
                 (report_id, target, note, by))
    return {"id": report_id, "status": target, "before": row[0]}


def photo(conn: psycopg.Connection, report_id: int, position: int) -> Photo:
    row = conn.execute("SELECT media_type, content FROM supervision.violation_photo WHERE report = %s AND position = %s",
                       (report_id, position)).fetchone()
    if row is None:
        raise invalid("position", f"举报 {report_id} 没有第 {position} 张照片", f"Report {report_id} has no photo {position}",
                      status=404)
    return Photo(row[0], bytes(row[1]))
