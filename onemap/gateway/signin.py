"""Sign-in for every client (登录): who a request comes from.

- `Authorization: Bearer <token>`: an access token (systems), or a JWT of
  the e-government system's single sign-on;
- HTTP Basic: a user name and password, or any user name and a token as the
  password (QGIS, GDAL, ArcGIS, OWSLib);
- the session cookie of `POST /auth/login` (the browser), with the CSRF
  token of `/auth/me` in `X-CSRF-Token` on every state-changing request.

A verified Basic password is cached in memory per worker for a short time:
QGIS sends it with every tile, and Argon2 is slow on purpose. Any change to
accounts, roles or tokens raises ops.access_version; each request that
carries credentials reads it in the same statement as its token or session
(one round trip; anonymous requests need no database here), and a worker
that sees it move reloads the stored roles and forgets its cache —
deactivation, lockout, revocation and role changes apply at once, in every
gunicorn worker. Tokens and sessions are not cached: each request sees
their state.
"""

from __future__ import annotations

import hashlib
import threading
import time

import psycopg
from flask import Blueprint, Flask, Request, Response, g, jsonify, request
from psycopg_pool import ConnectionPool

from onemap.core import accounts
from onemap.core.access import AccessPolicy
from onemap.core.accounts import AccountSettings, Identity
from onemap.core.auth import ANONYMOUS, Principal, credentials_of
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.settings import Settings
from onemap.core.sso import SsoSettings, SsoVerifier, looks_like_jwt

SESSION_COOKIE = "onemap_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SignIn:
    """Authentication state of one gateway worker."""

    def __init__(self, settings: Settings, policy: AccessPolicy) -> None:
        self.policy = policy
        self.settings = AccountSettings.from_gateway(settings.gateway)
        administering = {r.name for r in policy.builtin_roles.values() if r.administers}
        self.sso = SsoVerifier(SsoSettings.from_gateway(settings.gateway, settings.var_dir, administering))
        self._version: int | None = None
        self._lock = threading.Lock()
        self._basic_cache: dict[tuple[str, str], tuple[float, Identity]] = {}

    def refresh(self, conn: psycopg.Connection, version: int | None = None) -> None:
        """Reload stored roles and forget cached passwords when the access
        version (read here unless given) moved."""
        version = accounts.version(conn) if version is None else version
        if version != self._version:
            with self._lock:
                self.policy.replace_custom_roles(accounts.stored_roles(conn))
                self._basic_cache = {}
                self._version = version

    def authenticate(self, conn: psycopg.Connection, req: Request) -> tuple[Principal, str | None] | Problem:
        """The caller and, for a browser session, its CSRF token: one
        database round trip (accounts.access_state), two when the access
        version moved (the stored roles are read again), more only for a
        password not verified lately."""
        header = req.headers.get("Authorization", "")
        if header:
            try:
                credentials = credentials_of(header)
            except OneMapError as exc:
                return exc.problem
            jwt = credentials.scheme == "bearer" and looks_like_jwt(credentials.secret)
            # a Basic password may be a token (QGIS, GDAL): looked up as one in the same statement
            state = accounts.access_state(conn, token=None if jwt else credentials.secret)
            self.refresh(conn, state.version)
            if jwt:
                identity = self.sso.verify(credentials.secret)
                if isinstance(identity, Identity):
                    # never a blanket admin, whatever a stored role became since
                    identity = Identity(identity.name, tuple(
                        r for r in identity.roles if r in self.policy.roles and not self.policy.roles[r].administers))
            elif credentials.scheme == "bearer":
                identity = state.token or accounts.unknown_token()
            else:
                identity = state.token or self._basic(conn, credentials.user, credentials.secret)
            if isinstance(identity, Problem):
                return identity
            return self.policy.principal(identity.name, identity.roles), None
        state = accounts.access_state(conn, session_id=req.cookies.get(SESSION_COOKIE))
        self.refresh(conn, state.version)
        if state.session is None:
            return ANONYMOUS, None
        identity, csrf = state.session
        # signing in again needs no token: SameSite=Strict keeps other sites' forms out
        if (req.method not in _SAFE_METHODS and req.path != "/auth/login"
                and req.headers.get(CSRF_HEADER) != csrf):
            return Problem(403, "Forbidden", f"缺少或错误的 CSRF 令牌（请求头 {CSRF_HEADER}，取自 /auth/me）",
                           f"Missing or wrong CSRF token (header {CSRF_HEADER}, from /auth/me)", field=CSRF_HEADER)
        return self.policy.principal(identity.name, identity.roles), csrf

    def _basic(self, conn: psycopg.Connection, user: str, password: str) -> Identity | Problem:
        """A user's password, verified (Argon2) unless it was lately."""
        key = (user, hashlib.sha256(password.encode("utf-8")).hexdigest())
        cached = self._basic_cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        identity = accounts.sign_in(conn, user, password, self.settings)
        if isinstance(identity, Identity):
            self._basic_cache[key] = (time.monotonic() + self.settings.basic_cache_seconds, identity)
        return identity


def auth_blueprint(settings: Settings, signin: SignIn, pool: ConnectionPool) -> Blueprint:
    """/auth/login, /auth/logout, /auth/me: the browser session."""
    bp = Blueprint("auth", __name__)
    secure = settings.base_url.startswith("https://")

    @bp.post("/auth/login")
    def login() -> Response:
        g.secret_body = True  # a password: the audit trail keeps no hash of it
        data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        if not isinstance(data, dict):
            raise invalid(None, "请求体应为 JSON 对象 {name, password}", "The body must be a JSON object {name, password}")
        name, password = data.get("name"), data.get("password")
        for field, value in (("name", name), ("password", password)):
            if not isinstance(value, str) or not value:
                raise invalid(field, f"缺少 {field}", f"{field} is required")
        with pool.connection() as conn:
            signin.refresh(conn)
            identity = accounts.sign_in(conn, name, password, signin.settings)
            if isinstance(identity, Problem):
                raise OneMapError(identity)  # the failure count stays: the pool's connections autocommit
            session_id, csrf = accounts.open_session(conn, identity.name, signin.settings.session_hours)
        g.principal = signin.policy.principal(identity.name, identity.roles)
        response = jsonify(me(g.principal, csrf))
        response.set_cookie(SESSION_COOKIE, session_id, max_age=signin.settings.session_hours * 3600,
                            secure=secure or request.is_secure, httponly=True, samesite="Strict", path="/")
        return response

    @bp.post("/auth/logout")
    def logout() -> Response:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            with pool.connection() as conn:
                accounts.close_session(conn, session_id)
        response = jsonify({"signed_out": True})
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure or request.is_secure, httponly=True,
                               samesite="Strict")
        return response

    @bp.get("/auth/me")
    def whoami() -> Response:
        response = jsonify(me(g.principal, g.get("csrf")))
        response.headers["Cache-Control"] = "no-store"
        return response

    def me(principal: Principal, csrf: str | None) -> dict:
        policy = signin.policy
        return {"name": principal.name, "anonymous": principal.is_anonymous, "roles": sorted(principal.roles),
                "reads": sorted(policy.reads(principal)),
                "administers": sorted({f for r in principal.roles if r in policy.roles
                                       for f in policy.roles[r].administers}),
                "participation": sorted(policy.participation(principal)), "csrf": csrf}

    return bp


def install(app: Flask, settings: Settings, policy: AccessPolicy, pool: ConnectionPool) -> SignIn:
    """Authenticate every request of `app` (before anything else runs)."""
    signin = SignIn(settings, policy)

    @app.before_request
    def _authenticate() -> Response | None:
        g.csrf = None
        if not request.headers.get("Authorization") and not request.cookies.get(SESSION_COOKIE):
            # no credentials, no database: anonymous access (and /healthz
            # while PostgreSQL is down) depends on config alone
            g.principal = ANONYMOUS
            return None
        with pool.connection() as conn:
            result = signin.authenticate(conn, request)
        if isinstance(result, Problem):
            g.principal = ANONYMOUS
            raise OneMapError(result)
        g.principal, g.csrf = result
        return None

    app.register_blueprint(auth_blueprint(settings, signin, pool))
    return signin
