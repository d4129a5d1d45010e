"""Access tokens and roles. A token is shown once when created; only its
SHA-256 is stored (ops.token)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import psycopg

from onemap.core.db import connect

ROLES = ("staff", "admin", "egov")


@dataclass(frozen=True)
class Principal:
    """Who is calling: an anonymous client or the holder of a token."""

    name: str
    role: str | None  # None: anonymous

    @property
    def is_anonymous(self) -> bool:
        return self.role is None


ANONYMOUS = Principal(name="anonymous", role=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(database_url: str, role: str, name: str) -> str:
    """Create a token for `role`, store its hash, return the token itself."""
    if role not in ROLES:
        raise ValueError(f"角色无效 / unknown role {role!r}: one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("名称不能为空 / name must not be empty")
    token = "om_" + secrets.token_urlsafe(32)
    with connect(database_url) as conn:
        conn.execute("INSERT INTO ops.token (name, role, token_sha256) VALUES (%s, %s, %s)",
                     (name, role, token_hash(token)))
    return token


def revoke_token(database_url: str, name: str) -> int:
    with connect(database_url) as conn:
        cur = conn.execute("UPDATE ops.token SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL",
                           (name,))
        return cur.rowcount


def lookup_token(conn: psycopg.Connection, token: str) -> Principal | None:
    """The principal of a valid token, or None for an unknown or revoked one."""
    row = conn.execute(
        "SELECT name, role FROM ops.token WHERE token_sha256 = %s AND revoked_at IS NULL",
        (token_hash(token),),
    ).fetchone()
    return Principal(name=row[0], role=row[1]) if row else None
