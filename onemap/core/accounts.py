"""Accounts (用户), stored roles, access tokens and browser sessions in the
ops schema, as plain functions over a connection: the admin API, the CLI and
the gateway's sign-in call them. Passwords are Argon2 hashes; tokens and
session ids are stored as SHA-256 only. Every change raises the access
version (ops.access_version), which tells each gateway worker to reload.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from onemap.core.auth import token_hash
from onemap.core.db import connect
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.settings import Settings

_hasher = PasswordHasher()
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# Argon2 of a password nobody has: a sign-in for an unknown user costs the
# same as one for a known user, so the time does not say which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class AccountSettings:
    """The `accounts:` section of config/gateway.yaml."""

    lockout_failures: int
    lockout_minutes: int
    token_days: int
    session_hours: int
    password_min_length: int
    basic_cache_seconds: int

    @classmethod
    def from_gateway(cls, gateway: dict[str, Any]) -> AccountSettings:
        return cls(**{key: int(value) for key, value in gateway["accounts"].items()})


@dataclass(frozen=True)
class Identity:
    """A signed-in account: its name and roles."""

    name: str
    roles: tuple[str, ...]


# --- the version every change raises --------------------------------------
def version(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT version FROM ops.access_version").fetchone()[0]


def _changed(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE ops.access_version SET version = version + 1")


# --- roles ------------------------------------------------------------------
def stored_roles(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """The roles operators made, as role data (zh, en and the permissions)."""
    rows = conn.execute("SELECT name, zh, en, permissions FROM ops.role ORDER BY name").fetchall()
    return {name: {"zh": zh, "en": en, **permissions} for name, zh, en, permissions in rows}


def save_role(conn: psycopg.Connection, role: dict[str, Any], create: bool) -> None:
    """Create or replace a stored role (`role`: Role.as_dict() of a checked
    role). 409 when creating an existing one, 404 when replacing a missing one."""
    permissions = {key: role[key] for key in ("reads", "layers", "runs", "jobs", "administers", "participation")}
    if create:
        done = conn.execute("INSERT INTO ops.role (name, zh, en, permissions) VALUES (%s, %s, %s, %s) "
                            "ON CONFLICT (name) DO NOTHING",
                            (role["name"], role["zh"], role["en"], Jsonb(permissions))).rowcount
        if not done:
            raise invalid("name", f"角色 {role['name']} 已存在", f"The role {role['name']} exists", status=409)
    else:
        done = conn.execute("UPDATE ops.role SET zh = %s, en = %s, permissions = %s, updated_at = now() "
                            "WHERE name = %s", (role["zh"], role["en"], Jsonb(permissions), role["name"])).rowcount
        if not done:
            raise _no_role(role["name"])
    _changed(conn)


def delete_role(conn: psycopg.Connection, name: str) -> None:
    """Delete a stored role; the accounts that had it lose it."""
    if not conn.execute("DELETE FROM ops.role WHERE name = %s", (name,)).rowcount:
        raise _no_role(name)
    conn.execute("UPDATE ops.account SET roles = array_remove(roles, %s), updated_at = now() "
                 "WHERE %s = ANY (roles)", (name, name))
    _changed(conn)


def _no_role(name: str) -> OneMapError:
    return invalid("name", f"角色 {name} 不存在（或由配置文件定义）",
                   f"No role {name} (or it is defined in config/gateway.yaml)", status=404)


# --- accounts -----------------------------------------------------------------
_ACCOUNT_COLUMNS = ("name, display_name, department, system, active, roles, failed_logins, locked_until, "
                    "created_at, updated_at, password_hash IS NOT NULL AS has_password")


def _rows(conn: psycopg.Connection, query: str, params: tuple = ()) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (times in ISO 8601)."""
    rows = conn.cursor(row_factory=dict_row).execute(query, params).fetchall()
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]


def list_accounts(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, f"SELECT {_ACCOUNT_COLUMNS} FROM ops.account ORDER BY system, name")


def get_account(conn: psycopg.Connection, name: str) -> dict[str, Any]:
    rows = _rows(conn, f"SELECT {_ACCOUNT_COLUMNS} FROM ops.account WHERE name = %s", (name,))
    if not rows:
        raise invalid("name", f"用户 {name} 不存在", f"No user {name}", status=404)
    return rows[0]


def check_password(password: Any, settings: AccountSettings) -> str:
    if not isinstance(password, str) or len(password) < settings.password_min_length:
        raise invalid("password", f"密码至少 {settings.password_min_length} 个字符",
                      f"The password needs at least {settings.password_min_length} characters")
    return password


def check_roles(roles: Any, known: set[str]) -> list[str]:
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise invalid("roles", "roles 应为角色名列表", "roles must be a list of role names")
    unknown = sorted(set(roles) - known)
    if unknown:
        raise invalid("roles", f"未知的角色：{', '.join(unknown)}（可选：{', '.join(sorted(known))}）",
                      f"Unknown roles: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return sorted(set(roles))


def _text(data: dict[str, Any], key: str, zh: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or len(value) > 200:
        raise invalid(key, f"{zh}应为不超过 200 字的文本", f"{key} must be a text of at most 200 characters")
    return value.strip()


def create_account(conn: psycopg.Connection, data: dict[str, Any], known_roles: set[str],
                   settings: AccountSettings) -> dict[str, Any]:
    """A new user from admin API / CLI data: name, display_name, department,
    password, roles (and system: true for a token-only account)."""
    name = data.get("name")
    if not isinstance(name, str) or not USER_NAME.match(name):
        raise invalid("name", "用户名应为 1–64 个字母、数字或 . _ @ -，以字母或数字开头",
                      "A user name is 1-64 letters, digits or . _ @ -, starting with a letter or digit")
    system = data.get("system", False) is True
    password_hash = None if system else _hasher.hash(check_password(data.get("password"), settings))
    done = conn.execute(
        "INSERT INTO ops.account (name, display_name, department, password_hash, system, roles) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
        (name, _text(data, "display_name", "显示名称"), _text(data, "department", "部门"), password_hash,
         system, check_roles(data.get("roles", []), known_roles))).rowcount
    if not done:
        raise invalid("name", f"用户 {name} 已存在", f"The user {name} exists", status=409)
    _changed(conn)
    return get_account(conn, name)


def update_account(conn: psycopg.Connection, name: str, data: dict[str, Any], known_roles: set[str],
                   settings: AccountSettings) -> dict[str, Any]:
    """Change what `data` names of display_name, department, roles, active
    and password (a reset; it also unlocks)."""
    get_account(conn, name)  # 404 first
    allowed = {"display_name", "department", "roles", "active", "password"}
    extra = sorted(set(data) - allowed)
    if extra:
        raise invalid(extra[0], f"不能修改的字段：{', '.join(extra)}",
                      f"Fields that cannot be changed: {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")
    if "active" in data and not isinstance(data["active"], bool):
        raise invalid("active", "active 应为 true 或 false", "active must be true or false")
    for key, zh in (("display_name", "显示名称"), ("department", "部门")):
        if key in data:
            conn.execute(f"UPDATE ops.account SET {key} = %s WHERE name = %s", (_text(data, key, zh), name))
    if "roles" in data:
        conn.execute("UPDATE ops.account SET roles = %s WHERE name = %s",
                     (check_roles(data["roles"], known_roles), name))
    if "active" in data:
        conn.execute("UPDATE ops.account SET active = %s WHERE name = %s", (data["active"], name))
    if "password" in data:
        conn.execute("UPDATE ops.account SET password_hash = %s, failed_logins = 0, locked_until = NULL "
                     "WHERE name = %s", (_hasher.hash(check_password(data["password"], settings)), name))
    conn.execute("UPDATE ops.account SET updated_at = now() WHERE name = %s", (name,))
    _changed(conn)
    return get_account(conn, name)


def sign_in(conn: psycopg.Connection, name: str, password: str, settings: AccountSettings) -> Identity | Problem:
    """Check a user's password (Argon2), counting failures: after
    `lockout_failures` wrong passwords in a row the account is locked for
    `lockout_minutes` (423). A refusal is returned, not raised: the failure
    count it wrote must be committed with it."""
    row = conn.execute(
        "SELECT password_hash, active, roles, locked_until > now(), "
        "ceil(extract(epoch FROM locked_until - now()) / 60) FROM ops.account WHERE name = %s",
        (name,)).fetchone()
    if row is None or row[0] is None:
        _verify(_DUMMY_HASH, password)
        return _wrong_password().problem
    stored, active, roles, locked, minutes_left = row
    if not active:
        return Problem(401, "Unauthorized", "该用户已停用，请联系系统管理员",
                       "This user is deactivated: ask an administrator", field="Authorization")
    if locked:
        return _locked(int(minutes_left)).problem
    if not _verify(stored, password):
        failures = conn.execute(
            "UPDATE ops.account SET failed_logins = failed_logins + 1, locked_until = CASE "
            "WHEN failed_logins + 1 >= %s THEN now() + make_interval(mins => %s) END "
            "WHERE name = %s RETURNING failed_logins", (settings.lockout_failures, settings.lockout_minutes, name),
        ).fetchone()[0]
        if failures >= settings.lockout_failures:
            _changed(conn)
            return _locked(settings.lockout_minutes).problem
        return _wrong_password().problem
    conn.execute("UPDATE ops.account SET failed_logins = 0, locked_until = NULL "
                 "WHERE name = %s AND (failed_logins > 0 OR locked_until IS NOT NULL)", (name,))
    if _hasher.check_needs_rehash(stored):
        conn.execute("UPDATE ops.account SET password_hash = %s WHERE name = %s", (_hasher.hash(password), name))
    return Identity(name, tuple(roles))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _wrong_password() -> OneMapError:
    return invalid("Authorization", "用户名或密码错误（或访问令牌无效、已过期、已吊销）",
                   "Wrong user name or password (or the access token is unknown, expired or revoked)",
                   status=401, code="Unauthorized")


def _locked(minutes: int) -> OneMapError:
    return invalid("Authorization", f"密码错误次数过多，账户已锁定，请 {minutes} 分钟后再试或联系系统管理员",
                   f"Too many wrong passwords: the account is locked; try again in {minutes} minutes "
                   "or ask an administrator", status=423, code="Locked")


def identity_active(conn: psycopg.Connection, name: str) -> bool:
    """Whether the account still signs in (active, not locked)."""
    row = conn.execute("SELECT active AND (locked_until IS NULL OR locked_until <= now()) "
                       "FROM ops.account WHERE name = %s", (name,)).fetchone()
    return bool(row and row[0])


# --- tokens -------------------------------------------------------------------
def issue_token(conn: psycopg.Connection, account: str, name: str, days: int) -> str:
    """A new token of `account`, valid for `days`; the token itself is
    returned once, its hash stored."""
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "令牌名称不能为空", "A token needs a name")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise invalid("days", "有效期应为 1–3650 天", "days must be between 1 and 3650")
    token = "om_" + secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO ops.token (name, account_id, token_sha256, expires_at) "
        "SELECT %s, id, %s, now() + make_interval(days => %s) FROM ops.account WHERE name = %s RETURNING id",
        (name.strip(), token_hash(token), days, account)).fetchone()
    if row is None:
        raise invalid("account", f"用户 {account} 不存在", f"No user {account}", status=404)
    _changed(conn)
    return token


def list_tokens(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn,
                 "SELECT t.id, t.name, a.name AS account, t.created_at, t.expires_at, t.revoked_at, "
                 "t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND a.active AS valid "
                 "FROM ops.token t JOIN ops.account a ON a.id = t.account_id ORDER BY t.id")


def revoke_tokens(conn: psycopg.Connection, *, token_id: int | None = None, name: str | None = None) -> int:
    """Revoke a token by id, or every token of that name."""
    column, value = ("id", token_id) if token_id is not None else ("name", name)
    count = conn.execute(f"UPDATE ops.token SET revoked_at = now() WHERE {column} = %s AND revoked_at IS NULL",
                         (value,)).rowcount
    _changed(conn)
    return count


# the account of a valid token (not revoked, not expired, its account
# active), and of a live browser session (its account active, not locked)
_TOKEN_ACCOUNT = ("SELECT a.name, a.roles FROM ops.token t JOIN ops.account a ON a.id = t.account_id "
                  "WHERE t.token_sha256 = %(token)s AND t.revoked_at IS NULL "
                  "AND (t.expires_at IS NULL OR t.expires_at > now()) AND a.active")
_SESSION_ACCOUNT = ("SELECT a.name, a.roles, s.csrf FROM ops.session s JOIN ops.account a ON a.id = s.account_id "
                    "WHERE s.id_sha256 = %(session)s AND s.expires_at > now() AND a.active "
                    "AND (a.locked_until IS NULL OR a.locked_until <= now())")


def lookup_token(conn: psycopg.Connection, token: str) -> Identity | None:
    """The account of a valid token (not revoked, not expired, its account
    active), or None."""
    row = conn.execute(_TOKEN_ACCOUNT, {"token": token_hash(token)}).fetchone()
    return Identity(row[0], tuple(row[1])) if row else None


@dataclass(frozen=True)
class AccessState:
    """What signing a request in reads from the database: the access
    version, and the account of the request's token or browser session."""

    version: int
    token: Identity | None = None
    session: tuple[Identity, str] | None = None  # and its CSRF token


def access_state(conn: psycopg.Connection, token: str | None = None, session_id: str | None = None) -> AccessState:
    """The access version with the account of `token` and of `session_id`,
    in one statement: on a cached tile's path a round trip each was most of
    the sign-in's cost (issue 14). Read together, the version and the
    token's state are one snapshot: a revocation that raised the version
    is seen by both."""
    row = conn.execute(
        f"SELECT v.version, tok.name, tok.roles, ses.name, ses.roles, ses.csrf FROM ops.access_version v "
        f"LEFT JOIN LATERAL ({_TOKEN_ACCOUNT}) tok ON true LEFT JOIN LATERAL ({_SESSION_ACCOUNT}) ses ON true",
        {"token": token_hash(token) if token else None,
         "session": token_hash(session_id) if session_id else None}).fetchone()
    return AccessState(row[0], Identity(row[1], tuple(row[2])) if row[1] else None,
                       (Identity(row[3], tuple(row[4])), row[5]) if row[3] else None)


def role_names(conn: psycopg.Connection, gateway: dict[str, Any]) -> set[str]:
    """Every role: those of config/gateway.yaml and the stored ones."""
    return set(gateway["roles"]) | set(stored_roles(conn))


def create_token(database_url: str, role: str, name: str, days: int | None = None) -> str:
    """`onemap token create --role R --name N`: a token of the system
    account N (created with role R, or given R when it exists)."""
    gateway = Settings.from_env().gateway
    if not name.strip():
        raise ValueError("名称不能为空 / name must not be empty")
    with connect(database_url) as conn:
        known = role_names(conn, gateway)
        if role not in known:
            raise ValueError(f"角色无效 / unknown role {role!r}: one of {', '.join(sorted(known))}")
        conn.execute("INSERT INTO ops.account (name, system, roles) VALUES (%s, true, ARRAY[%s]) "
                     "ON CONFLICT (name) DO UPDATE SET roles = ARRAY[%s], updated_at = now() "
                     "WHERE ops.account.system", (name, role, role))
        return issue_token(conn, name, name, days or AccountSettings.from_gateway(gateway).token_days)


def revoke_token(database_url: str, name: str) -> int:
    """`onemap token revoke --name N`: every token of that name."""
    with connect(database_url) as conn:
        return revoke_tokens(conn, name=name)


# --- browser sessions ---------------------------------------------------------
def open_session(conn: psycopg.Connection, account: str, hours: int) -> tuple[str, str]:
    """A session of a signed-in account: (session id for the cookie, CSRF token)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    conn.execute("INSERT INTO ops.session (id_sha256, account_id, csrf, expires_at) "
                 "SELECT %s, id, %s, now() + make_interval(hours => %s) FROM ops.account WHERE name = %s",
                 (token_hash(session_id), csrf, hours, account))
    conn.execute("DELETE FROM ops.session WHERE expires_at < now()")  # the expired ones, while here
    return session_id, csrf


def close_session(conn: psycopg.Connection, session_id: str) -> None:
    conn.execute("DELETE FROM ops.session WHERE id_sha256 = %s", (token_hash(session_id),))


def unknown_token() -> Problem:
    return Problem(401, "Unauthorized", "访问令牌无效、已过期或已吊销", "The access token is unknown, expired or revoked",
                   field="Authorization")
