"""The accounts administration (用户与权限管理) under /admin/: users, roles
and their permissions, tokens — JSON for the admin page and for scripts.
Every route belongs to the `accounts` administration function; every change
is written with its audit row in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from flask import Response, g, jsonify
from psycopg_pool import ConnectionPool

from onemap.core import accounts, audit
from onemap.core.access import ADMIN_FUNCTIONS, PARTICIPATION, SENSITIVITIES, AccessPolicy
from onemap.core.errors import invalid
from onemap.gateway.admin.routes import AdminRoutes, json_body
from onemap.gateway.signin import SignIn


def register(routes: AdminRoutes, signin: SignIn, pool: ConnectionPool) -> None:
    policy: AccessPolicy = signin.policy

    def change(action: str, target: str, work: Callable[[psycopg.Connection], Any], detail: dict[str, Any] | None = None) -> Any:
        """Run `work(conn)` and its audit row in one transaction (the pool's
        connections autocommit: a refused change leaves nothing behind)."""
        with pool.connection() as conn, conn.transaction():
            result = work(conn)
            audit.record(conn, g.principal, action, target, 200, detail=detail or {})
        return result

    # --- the vocabulary of permissions ---------------------------------------
    @routes.get("accounts", "/permissions")
    def permissions() -> Response:
        return jsonify({"sensitivities": list(SENSITIVITIES), "layers": sorted(policy.sensitivity),
                        "processes": list(policy.process_ids), "jobs": ["own", "all"],
                        "administers": list(ADMIN_FUNCTIONS),
                        "participation": [{"id": right, "zh": zh, "en": en}
                                          for right, (zh, en) in PARTICIPATION.items()]})

    # --- users ---------------------------------------------------------------
    @routes.get("accounts", "/users")
    def users() -> Response:
        with pool.connection() as conn:
            return jsonify(accounts.list_accounts(conn))

    @routes.post("accounts", "/users")
    def create_user() -> Response:
        g.secret_body = True
        data = json_body()
        created = change("accounts.user.create", f"user:{data.get('name')}",
                         lambda conn: accounts.create_account(conn, data, set(policy.roles), signin.settings),
                         {k: v for k, v in data.items() if k != "password"})
        return jsonify(created), 201

    @routes.get("accounts", "/users/<name>")
    def user(name: str) -> Response:
        with pool.connection() as conn:
            return jsonify(accounts.get_account(conn, name))

    @routes.patch("accounts", "/users/<name>")
    def update_user(name: str) -> Response:
        g.secret_body = True
        data = json_body()
        detail = {k: ("***" if k == "password" else v) for k, v in data.items()}
        return jsonify(change("accounts.user.update", f"user:{name}",
                              lambda conn: accounts.update_account(conn, name, data, set(policy.roles),
                                                                   signin.settings), detail))

    @routes.post("accounts", "/users/<name>/deactivate")
    def deactivate_user(name: str) -> Response:
        return jsonify(change("accounts.user.deactivate", f"user:{name}",
                              lambda conn: accounts.update_account(conn, name, {"active": False},
                                                                   set(policy.roles), signin.settings)))

    @routes.post("accounts", "/users/<name>/password")
    def reset_password(name: str) -> Response:
        g.secret_body = True
        password = json_body().get("password")
        return jsonify(change("accounts.user.password", f"user:{name}",
                              lambda conn: accounts.update_account(conn, name, {"password": password},
                                                                   set(policy.roles), signin.settings)))

    # --- roles ---------------------------------------------------------------
    @routes.get("accounts", "/roles")
    def roles() -> Response:
        return jsonify([role.as_dict() for role in sorted(policy.roles.values(), key=lambda r: r.name)])

    @routes.post("accounts", "/roles")
    def create_role() -> Response:
        data = json_body()
        role = policy.custom_role(data.get("name"), data).as_dict()
        change("accounts.role.create", f"role:{role['name']}",
               lambda conn: accounts.save_role(conn, role, create=True), role)
        return jsonify(role), 201

    @routes.put("accounts", "/roles/<name>")
    def replace_role(name: str) -> Response:
        role = policy.custom_role(name, json_body()).as_dict()
        change("accounts.role.update", f"role:{name}", lambda conn: accounts.save_role(conn, role, create=False),
               role)
        return jsonify(role)

    @routes.delete("accounts", "/roles/<name>")
    def delete_role(name: str) -> Response:
        if name in policy.builtin_roles:
            policy.custom_role(name, {})  # raises the 409 that says why
        change("accounts.role.delete", f"role:{name}", lambda conn: accounts.delete_role(conn, name))
        return jsonify({"deleted": name})

    # --- tokens --------------------------------------------------------------
    @routes.get("accounts", "/tokens")
    def tokens() -> Response:
        with pool.connection() as conn:
            return jsonify(accounts.list_tokens(conn))

    @routes.post("accounts", "/tokens")
    def create_token() -> Response:
        data = json_body()
        account, name = data.get("account"), data.get("name")
        days = data.get("days", signin.settings.token_days)
        if not isinstance(account, str) or not account:
            raise invalid("account", "缺少令牌所属用户（account）", "account (the token's user) is required")
        token = change("accounts.token.create", f"user:{account}",
                       lambda conn: accounts.issue_token(conn, account, name, days), {"name": name, "days": days})
        return jsonify({"account": account, "name": name, "days": days, "token": token}), 201

    @routes.post("accounts", "/tokens/<int:token_id>/revoke")
    def revoke_token(token_id: int) -> Response:
        def work(conn: psycopg.Connection) -> int:
            count = accounts.revoke_tokens(conn, token_id=token_id)
            if not count:
                raise invalid("id", f"令牌 {token_id} 不存在或已吊销", f"No token {token_id}, or it is revoked",
                              status=404)
            return count
        change("accounts.token.revoke", f"token:{token_id}", work)
        return jsonify({"revoked": token_id})
