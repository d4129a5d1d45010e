"""The audit writer (全过程留痕): the one place that writes ops.audit, for
requests at the gateway and for process runs alike."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg

from onemap.core.auth import Principal


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def record(conn: psycopg.Connection, principal: Principal, action: str, target: str, status: int,
           input_sha256: str | None = None, output_sha256: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    """One audit row, in the caller's transaction: a change and its record
    are committed together or not at all."""
    conn.execute(
        "INSERT INTO ops.audit (actor, role, action, target, status, input_sha256, output_sha256, detail) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (principal.name, principal.role, action, target, status, input_sha256, output_sha256,
         json.dumps(detail or {}, ensure_ascii=False)))
