"""The accounts administration (用户与权限管理) under /admin/: users, roles
and their permissions, tokens — JSON for the admin page and for scripts.
Every route needs a role that administers `accounts`; every change is
written with its audit row in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from flask import Blueprint, Response, g, jsonify, request, send_from_directory
from psycopg_pool import ConnectionPool

from onemap.core import accounts, audit
from onemap.core.access import ADMIN_FUNCTIONS, SENSITIVITIES, AccessPolicy
from onemap.core.errors import OneMapError, invalid
from onemap.core.settings import ROOT
from onemap.gateway.signin import SignIn

_PAGE_DIR = ROOT / "viewer" / "src" / "admin"


def admin_blueprint(signin: SignIn, pool: ConnectionPool) -> Blueprint:
    bp = Blueprint("admin_accounts", __name__)
    policy: AccessPolicy = signin.policy

    @bp.before_request
    def _guard() -> None:
        if request.path.rstrip("/") in ("/admin", "/admin/admin.js"):
            return  # the page itself holds no data: it signs in and calls the API below
        problem = policy.check_admin(g.principal, "accounts")
        if problem is not None:
            raise OneMapError(problem)

    @bp.get("/admin/")
    def page() -> Response:
        return send_from_directory(_PAGE_DIR, "index.html")

    @bp.get("/admin/admin.js")
    def script() -> Response:
        return send_from_directory(_PAGE_DIR, "admin.js")

    def change(action: str, target: str, work: Callable[[psycopg.Connection], Any], detail: dict[str, Any] | None = None) -> Any:
        """Run `work(conn)` and its audit row in one transaction (the pool's
        connections autocommit: a refused change leaves nothing behind)."""
        with pool.connection() as conn, conn.transaction():
            result = work(conn)
            audit.record(conn, g.principal, action, target, 200, detail=detail or {})
        return result

    # --- the vocabulary of permissions ---------------------------------------
    @bp.get("/admin/permissions")
    def permissions() -> Response:
        return jsonify({"sensitivities": list(SENSITIVITIES), "layers": sorted(policy.sensitivity),
                        "processes": list(policy.process_ids), "jobs": ["own", "all"],
                        "administers": list(ADMIN_FUNCTIONS)})

    # --- users ---------------------------------------------------------------
    @bp.get("/admin/users")
    def users() -> Response:
        with pool.connection() as conn:
            return jsonify(accounts.list_accounts(conn))

    @bp.post("/admin/users")
    def create_user() -> Response:
        g.secret_body = True
        data = body()
        created = change("accounts.user.create", f"user:{data.get('name')}",
                         lambda conn: accounts.create_account(conn, data, set(policy.roles), signin.settings),
                         {k: v for k, v in data.items() if k != "password"})
        return jsonify(created), 201

    @bp.get("/admin/users/<name>")
    def user(name: str) -> Response:
        with pool.connection() as conn:
            return jsonify(accounts.get_account(conn, name))

    @bp.patch("/admin/users/<name>")
    def update_user(name: str) -> Response:
        g.secret_body = True
        data = body()
        detail = {k: ("***" if k == "password" else v) for k, v in data.items()}
        return jsonify(change("accounts.user.update", f"user:{name}",
                              lambda conn: accounts.update_account(conn, name, data, set(policy.roles),
                                                                   signin.settings), detail))

    @bp.post("/admin/users/<name>/deactivate")
    def deactivate_user(name: str) -> Response:
        return jsonify(change("accounts.user.deactivate", f"user:{name}",
                              lambda conn: accounts.update_account(conn, name, {"active": False},
                                                                   set(policy.roles), signin.settings)))

    @bp.post("/admin/users/<name>/password")
    def reset_password(name: str) -> Response:
        g.secret_body = True
        password = body().get("password")
        return jsonify(change("accounts.user.password", f"user:{name}",
                              lambda conn: accounts.update_account(conn, name, {"password": password},
                                                                   set(policy.roles), signin.settings)))

    # --- roles ---------------------------------------------------------------
    @bp.get("/admin/roles")
    def roles() -> Response:
        return jsonify([role.as_dict() for role in sorted(policy.roles.values(), key=lambda r: r.name)])

    @bp.post("/admin/roles")
    def create_role() -> Response:
        data = body()
        role = policy.custom_role(data.get("name"), data).as_dict()
        change("accounts.role.create", f"role:{role['name']}",
               lambda conn: accounts.save_role(conn, role, create=True), role)
        return jsonify(role), 201

    @bp.put("/admin/roles/<name>")
    def replace_role(name: str) -> Response:
        role = policy.custom_role(name, body()).as_dict()
        change("accounts.role.update", f"role:{name}", lambda conn: accounts.save_role(conn, role, create=False),
               role)
        return jsonify(role)

    @bp.delete("/admin/roles/<name>")
    def delete_role(name: str) -> Response:
        if name in policy.builtin_roles:
            policy.custom_role(name, {})  # raises the 409 that says why
        change("accounts.role.delete", f"role:{name}", lambda conn: accounts.delete_role(conn, name))
        return jsonify({"deleted": name})

    # --- tokens --------------------------------------------------------------
    @bp.get("/admin/tokens")
    def tokens() -> Response:
        with pool.connection() as conn:
            return jsonify(accounts.list_tokens(conn))

    @bp.post("/admin/tokens")
    def create_token() -> Response:
        data = body()
        account, name = data.get("account"), data.get("name")
        days = data.get("days", signin.settings.token_days)
        if not isinstance(account, str) or not account:
            raise invalid("account", "缺少令牌所属用户（account）", "account (the token's user) is required")
        token = change("accounts.token.create", f"user:{account}",
                       lambda conn: accounts.issue_token(conn, account, name, days), {"name": name, "days": days})
        return jsonify({"account": account, "name": name, "days": days, "token": token}), 201

    @bp.post("/admin/tokens/<int:token_id>/revoke")
    def revoke_token(token_id: int) -> Response:
        def work(conn: psycopg.Connection) -> int:
            count = accounts.revoke_tokens(conn, token_id=token_id)
            if not count:
                raise invalid("id", f"令牌 {token_id} 不存在或已吊销", f"No token {token_id}, or it is revoked",
                              status=404)
            return count
        change("accounts.token.revoke", f"token:{token_id}", work)
        return jsonify({"revoked": token_id})

    return bp


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise invalid(None, "请求体应为 JSON 对象（Content-Type: application/json）",
                      "The body must be a JSON object (Content-Type: application/json)")
    return data
