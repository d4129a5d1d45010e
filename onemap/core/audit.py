"""The audit writer (全过程留痕): the one place that writes ops.audit, for
requests at the gateway and for process runs alike, as a hash chain.

Each row carries the hash of the row before it and its own hash, both over
the canonical form that `ops.audit_row_hash` (onemap/core/schema.sql)
defines; `ops.audit_head` names the last row. `verify` walks the chain and
names the first row that was changed, inserted or deleted."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.auth import Principal
from onemap.core.logs import REQUEST_ID


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def record(conn: psycopg.Connection, principal: Principal, action: str, target: str, status: int,
           input_sha256: str | None = None, output_sha256: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    """One audit row, in the caller's transaction: a change and its record
    are committed together or not at all. The chain head is locked until
    that transaction ends, so writers append one after another. The row
    carries the id of the request being served (or of the request that
    started the job)."""
    with conn.transaction():
        (prev,) = conn.execute("SELECT last_hash FROM ops.audit_head FOR UPDATE").fetchone()
        (row_id,) = conn.execute(
            "INSERT INTO ops.audit (actor, role, action, target, status, input_sha256, output_sha256, detail, "
            "request_id, prev_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (principal.name, principal.role, action, target, status, input_sha256, output_sha256,
             json.dumps(detail or {}, ensure_ascii=False), REQUEST_ID.get(), prev)).fetchone()
        # a second statement: the hash covers the row as stored (its id, its time)
        conn.execute("WITH chained AS (UPDATE ops.audit a SET row_hash = ops.audit_row_hash(a) WHERE a.id = %s "
                     "RETURNING a.row_hash) UPDATE ops.audit_head SET last_id = %s, last_hash = chained.row_hash "
                     "FROM chained", (row_id, row_id))


@dataclass(frozen=True)
class Break:
    """Where the chain is broken: the row (by id) and what is wrong."""

    id: int | None
    zh: str
    en: str


def verify(conn: psycopg.Connection) -> tuple[int, Break | None]:
    """Walk the chain in id order: the number of rows checked and the first
    break (None: intact). A row whose stored hash differs from its fields'
    was changed; a row whose prev_hash names an earlier row than the one
    before it follows inserted rows; one whose prev_hash names no row follows
    deleted rows; a head that names a row that is not there says the last
    rows were deleted. The head is read first: rows that writers append
    while the walk runs come after the row it names and chain on from it."""
    head_id, head_hash = conn.execute("SELECT last_id, last_hash FROM ops.audit_head").fetchone()
    seen: dict[str, int] = {}
    prev_id: int | None = None
    prev_hash: str | None = None
    count = 0
    rows = conn.execute("SELECT a.id, a.prev_hash, a.row_hash, ops.audit_row_hash(a) FROM ops.audit a "
                        "ORDER BY a.id")
    for row_id, stored_prev, stored, computed in rows:
        count += 1
        if stored is None:
            return count, Break(row_id, f"第 {row_id} 条记录不是审计写入器写入的（没有哈希）",
                                f"row {row_id} was not written by the audit writer (it has no hash)")
        if stored != computed:
            return count, Break(row_id, f"第 {row_id} 条记录被修改（内容与其哈希不符）",
                                f"row {row_id} was changed (its fields do not match its hash)")
        if stored_prev != prev_hash:
            if stored_prev in seen:
                first = seen[stored_prev]
                return count, Break(prev_id, f"第 {first} 条之后、第 {row_id} 条之前插入了记录（首条插入：第 {prev_id} 条）",
                                    f"rows were inserted after row {first} and before row {row_id} "
                                    f"(the first inserted: row {prev_id})")
            return count, Break(row_id, f"第 {row_id} 条之前的记录被删除（上一条：{prev_id or '无'}）",
                                f"rows before row {row_id} were deleted (the row before it now: {prev_id or 'none'})")
        seen[stored] = row_id
        prev_id, prev_hash = row_id, stored
    if (seen.get(head_hash) != head_id) if head_hash is not None else count > 0:
        return count, Break(head_id, f"链尾记录被删除：链头指向第 {head_id} 条，最后一条为第 {prev_id or '无'} 条",
                            f"the last rows were deleted: the chain head names row {head_id}, "
                            f"the last row is {prev_id or 'none'}")
    return count, None


# --- the admin query -----------------------------------------------------

COLUMNS = ("id", "at", "actor", "role", "action", "target", "status", "request_id",
           "input_sha256", "output_sha256", "detail")


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit query (all optional) and the page."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None  # a prefix
    status: int | None = None
    since: dt.datetime | None = None  # from
    until: dt.datetime | None = None  # to (exclusive)
    request_id: str | None = None
    limit: int = 100
    offset: int = 0

    def where(self) -> tuple[sql.Composable, list[Any]]:
        conditions: list[sql.Composable] = []
        values: list[Any] = []
        for column, value, operator in (("actor", self.actor, "="), ("action", self.action, "="),
                                        ("status", self.status, "="), ("request_id", self.request_id, "="),
                                        ("at", self.since, ">="), ("at", self.until, "<")):
            if value is not None:
                conditions.append(sql.SQL("{} {} %s").format(sql.Identifier(column), sql.SQL(operator)))
                values.append(value)
        if self.target:
            conditions.append(sql.SQL("starts_with(target, %s)"))
            values.append(self.target)
        return (sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")), values


def query(conn: psycopg.Connection, q: AuditQuery) -> tuple[list[dict[str, Any]], int]:
    """The page of matching rows (newest first) and how many match."""
    where, values = q.where()
    total = conn.execute(sql.SQL("SELECT count(*) FROM ops.audit") + where, values).fetchone()[0]
    rows = conn.execute(sql.SQL("SELECT {} FROM ops.audit").format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
                        + where + sql.SQL(" ORDER BY id DESC LIMIT %s OFFSET %s"), [*values, q.limit, q.offset])
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows], total
