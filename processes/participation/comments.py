"""意见征询 Comments on a publication: submitted by anyone (pending),
approved or rejected by staff, answered with a reply; approved comments and
their replies are public, a commenter's name and phone never are."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from onemap.core.errors import invalid
from processes.participation import text
from processes.participation.publications import find_current

MAX_TEXT = 2000
STATES = ("pending", "approved", "rejected")
ACTIONS = {"approve": "approved", "reject": "rejected"}


def submit(conn: psycopg.Connection, gsbh: str, data: dict[str, Any]) -> dict[str, Any]:
    """A citizen's comment on a publication under notice: {body, name?,
    phone?, lon?, lat?}. Stored pending."""
    publication = find_current(conn, gsbh)
    body = text.plain_text(data, "body", "意见内容", "comment", MAX_TEXT)
    name = text.plain_text(data, "name", "姓名", "name", 50, required=False)
    phone = text.phone(data)
    lon, lat = text.point_in_city(conn, data, False, "意见") or (None, None)
    (pk,) = conn.execute(  # ST_MakePoint of NULLs is NULL: a comment without a point
        """INSERT INTO supervision.public_comment (publication, yjnr, author_name, author_phone, geom)
           VALUES (%s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s::float8, %s::float8), 4490)) RETURNING id""",
        (publication["id"], body, name, phone, lon, lat)).fetchone()
    return {"id": pk, "state": "pending"}


def approved(conn: psycopg.Connection, gsbh: str) -> list[dict[str, Any]]:
    """The public comments of a publication: text, reply, date, point."""
    publication = find_current(conn, gsbh)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT id, yjnr, dfnr, tjsj::date::text AS tjrq, ST_X(geom) AS lon, ST_Y(geom) AS lat
               FROM supervision.public_comment WHERE publication = %s AND state = 'approved' ORDER BY id""",
            (publication["id"],)).fetchall()


def for_moderation(conn: psycopg.Connection, state: str | None) -> list[dict[str, Any]]:
    """Comments for staff, with the commenter's contact (oldest first)."""
    if state is not None and state not in STATES:
        raise invalid("state", f"状态应为 {'、'.join(STATES)} 之一", f"state must be one of {', '.join(STATES)}")
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT c.id, p.gsbh, p.gsmc, c.yjnr, c.author_name, c.author_phone, c.state, c.dfnr,
                      c.tjsj::text AS tjsj, c.moderated_by, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat
               FROM supervision.public_comment c JOIN supervision.publication p ON p.id = c.publication
               WHERE %(state)s::text IS NULL OR c.state = %(state)s ORDER BY c.id""", {"state": state}).fetchall()


def moderate(conn: psycopg.Connection, comment_id: int, data: dict[str, Any], by: str) -> dict[str, Any]:
    """Approve or reject a comment ({action, reply?}), or reply to an
    approved one ({action: reply, reply}). The row is locked: two staff
    members acting at once act one after the other."""
    action = data.get("action")
    if action not in (*ACTIONS, "reply"):
        raise invalid("action", "操作应为 approve（通过）、reject（不予公开）或 reply（答复）",
                      "action must be approve, reject or reply")
    reply = text.plain_text(data, "reply", "答复", "reply", MAX_TEXT, required=action == "reply")
    row = conn.execute("SELECT state FROM supervision.public_comment WHERE id = %s FOR UPDATE", (comment_id,)).fetchone()
    if row is None:
        raise invalid("id", f"意见 {comment_id} 不存在", f"No comment {comment_id}", status=404)
    state = ACTIONS.get(action, row[0])
    if state == "rejected" and reply:
        raise invalid("reply", "不予公开的意见不能公开答复", "A rejected comment gets no public reply", status=409)
    if action == "reply" and row[0] != "approved":
        raise invalid("action", "只能答复已通过的意见", "Only an approved comment can be replied to", status=409)
    conn.execute("""UPDATE supervision.public_comment SET state = %s, dfnr = coalesce(%s, dfnr),
                        moderated_by = %s, moderated_at = now() WHERE id = %s""", (state, reply, by, comment_id))
    return {"id": comment_id, "state": state, "before": row[0], "reply": reply}
