"""Access tokens and roles. A token is shown once when created; only its
SHA-256 is stored (ops.token)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psycopg

from onemap.core.db import connect
from onemap.core.errors import OneMapError, Problem
from onemap.core.settings import Settings, config_dir, load_yaml


@dataclass(frozen=True)
class Principal:
    """Who is calling: an anonymous client or the holder of a token."""

    name: str
    role: str | None  # None: anonymous

    @property
    def is_anonymous(self) -> bool:
        return self.role is None


ANONYMOUS = Principal(name="anonymous", role=None)


def known_roles() -> tuple[str, ...]:
    """The roles of config/gateway.yaml: the one list of them."""
    return tuple(Settings.from_env().gateway["roles"])


@cache
def _all_jobs_roles(config_dir: Path) -> frozenset[str]:
    roles = load_yaml(config_dir / "gateway.yaml")["roles"]
    return frozenset(role for role, spec in roles.items() if spec.get("jobs") == "all")


def sees_all_jobs(principal: Principal) -> bool:
    """Whether the caller sees every process job and check result, not only
    its own (the role's `jobs: all` in config/gateway.yaml)."""
    return principal.role in _all_jobs_roles(config_dir())


def challenge(authorization: str) -> str:
    """What a 401 asks for (WWW-Authenticate): HTTP Basic first, the scheme
    QGIS, GDAL and ArcGIS can send for OGC API, WMS, WMTS and CSW (a token as
    the password), then Bearer — but only Bearer to a caller that sent a
    Bearer token: a browser meets a Basic challenge with a password dialog."""
    if authorization.strip().lower().startswith("bearer"):
        return 'Bearer realm="onemap"'
    return 'Basic realm="onemap", charset="UTF-8", Bearer realm="onemap"'


def token_of(authorization: str) -> str:
    """The token an Authorization header carries: `Bearer <token>`, or HTTP
    Basic with the token as the password (any user name: the token says
    who). Raises OneMapError (401) for any other form."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            _, colon, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            colon, password = "", ""
        if colon and password:
            return password
    raise OneMapError(Problem(
        401, "Unauthorized", "Authorization 头格式应为 Bearer <令牌>，或 Basic（用户名任意，密码为令牌）",
        "The Authorization header must be 'Bearer <token>', or Basic with the token as the password",
        field="Authorization"))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(database_url: str, role: str, name: str) -> str:
    """Create a token for `role`, store its hash, return the token itself."""
    roles = known_roles()
    if role not in roles:
        raise ValueError(f"角色无效 / unknown role {role!r}: one of {', '.join(roles)}")
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
