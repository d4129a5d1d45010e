"""/admin/…: the operators' API and page (系统运维) — accounts, configuration,
the audit trail, the logs and backups.

One blueprint and one guard: every route is declared with the
administration function it belongs to (config/gateway.yaml `administers`),
and a route without one is refused. The page itself (index.html and its
scripts) holds no data: it signs in and calls the API."""

from __future__ import annotations

from flask import Blueprint, Response, g, request, send_from_directory
from psycopg_pool import ConnectionPool

from onemap.core.errors import OneMapError, Problem
from onemap.core.settings import ROOT, Settings
from onemap.gateway.admin import accounts, configuration, operations
from onemap.gateway.admin.routes import AdminRoutes
from onemap.gateway.signin import SignIn

PAGE_DIR = ROOT / "viewer" / "src" / "admin"
_PAGE_ENDPOINTS = frozenset({"admin.page", "admin.script"})


def blueprint(settings: Settings, signin: SignIn, pool: ConnectionPool) -> Blueprint:
    bp = Blueprint("admin", __name__, url_prefix="/admin")
    routes = AdminRoutes(bp)
    accounts.register(routes, signin, pool)
    configuration.register(routes, settings, pool)
    operations.register(routes, settings, pool)

    @bp.before_request
    def _guard() -> None:
        if request.endpoint in _PAGE_ENDPOINTS:
            return
        function = routes.functions.get(request.endpoint or "")
        if function is None:  # not a route of ours (404/405): still nothing for anonymous callers
            raise OneMapError(signin.policy.check_admin(g.principal, "accounts")
                              or Problem(404, "NotFound", "没有这个管理接口", "No such administration route"))
        problem = signin.policy.check_admin(g.principal, function)
        if problem is not None:
            raise OneMapError(problem)

    @bp.get("/")
    def page() -> Response:
        return send_from_directory(PAGE_DIR, "index.html")

    @bp.get("/<name>.js")
    def script(name: str) -> Response:
        return send_from_directory(PAGE_DIR, f"{name}.js", mimetype="text/javascript")

    return bp
