"""/admin/config: configuration management for operators (配置管理).

  GET  /admin/config                      the managed files and their current version
  GET  /admin/config/files/<path>         a file as in use (?version=N|label: a stored one)
  PUT  /admin/config/files/<path>         new content (body; ?comment=&label=): checked,
                                          versioned, audited, written, applied
  GET  /admin/config/versions/<path>      its history
  POST /admin/config/rollback/<path>      {"version": N or label, "comment": ...}

Every route needs a role that administers `config` (config/gateway.yaml).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g, request
from psycopg_pool import ConnectionPool

from onemap import stack
from onemap.core import configstore
from onemap.core.access import AccessPolicy
from onemap.core.errors import OneMapError, invalid
from onemap.core.settings import Settings


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def blueprint(settings: Settings, policy: AccessPolicy, pool: ConnectionPool) -> Blueprint:
    bp = Blueprint("admin_config", __name__, url_prefix="/admin/config")
    config_dir = settings.config_dir

    @bp.before_request
    def _administrators_only() -> None:
        problem = policy.check_admin(g.principal, "config")
        if problem is not None:
            raise OneMapError(problem)

    def applied(version: configstore.ConfigVersion) -> Response:
        reloaded = stack.apply_config(settings, settings.database_url)
        return _json({**version.as_dict(), "applied": True, "gatewayReloaded": reloaded})

    @bp.get("")
    def files() -> Response:
        with pool.connection() as conn:
            current = dict(conn.execute(
                "SELECT DISTINCT ON (path) path, version FROM ops.config_version "
                "ORDER BY path, version DESC").fetchall())
        return _json({"files": [{"path": path, "version": current.get(path)}
                                for path in configstore.managed_files(config_dir)]})

    @bp.get("/files/<path:path>")
    def read(path: str) -> Response:
        path = configstore.relative_path(config_dir, path)
        version = request.args.get("version")
        if version:
            with pool.connection() as conn:
                _, content = configstore.content_of(conn, path, version)
        elif (config_dir / path).is_file():
            content = (config_dir / path).read_bytes()
        else:
            raise invalid("path", f"配置文件不存在：{path}", f"No configuration file {path}", status=404)
        media_type = "text/csv" if path.endswith(".csv") else "application/yaml"
        return Response(content, content_type=f"{media_type}; charset=utf-8")

    @bp.put("/files/<path:path>")
    def write(path: str) -> Response:
        with pool.connection() as conn:
            version = configstore.change(conn, g.principal, config_dir, path, request.get_data(cache=True),
                                         request.args.get("comment", ""), request.args.get("label") or None)
        return applied(version)

    @bp.get("/versions/<path:path>")
    def versions(path: str) -> Response:
        path = configstore.relative_path(config_dir, path)
        with pool.connection() as conn:
            return _json({"path": path, "versions": [v.as_dict() for v in configstore.history(conn, path)]})

    @bp.post("/rollback/<path:path>")
    def rollback(path: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("version") in (None, ""):
            raise invalid("version", "请求体应为 JSON，且包含要回退到的版本号或标签 version",
                          "The body must be JSON with the version number or label to roll back to", )
        with pool.connection() as conn:
            version = configstore.rollback(conn, g.principal, config_dir, path, str(body["version"]),
                                           str(body.get("comment") or ""))
        return applied(version)

    return bp
