"""/admin/config: configuration management for operators (配置管理).

  GET  /admin/config                      the managed files and their current version
  GET  /admin/config/files/<path>         a file as in use (?version=N|label: a stored one)
  PUT  /admin/config/files/<path>         new content (body; ?comment=&label=): checked,
                                          versioned, audited, written, applied
  GET  /admin/config/versions/<path>      its history
  POST /admin/config/rollback/<path>      {"version": N or label, "comment": ...}

Every route belongs to the `config` administration function (config/gateway.yaml).
"""

from __future__ import annotations

from flask import Response, g, request
from psycopg_pool import ConnectionPool

from onemap import stack
from onemap.core import configstore
from onemap.core.errors import invalid
from onemap.core.settings import Settings
from onemap.gateway.admin.routes import AdminRoutes, json_response


def register(routes: AdminRoutes, settings: Settings, pool: ConnectionPool) -> None:
    config_dir = settings.config_dir

    def applied(version: configstore.ConfigVersion) -> Response:
        reloaded = stack.apply_config(settings, settings.database_url)
        return json_response({**version.as_dict(), "applied": True, "gatewayReloaded": reloaded})

    @routes.get("config", "/config")
    def files() -> Response:
        with pool.connection() as conn:
            current = dict(conn.execute(
                "SELECT DISTINCT ON (path) path, version FROM ops.config_version "
                "ORDER BY path, version DESC").fetchall())
        return json_response({"files": [{"path": path, "version": current.get(path)}
                                for path in configstore.managed_files(config_dir)]})

    @routes.get("config", "/config/files/<path:path>")
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

    @routes.put("config", "/config/files/<path:path>")
    def write(path: str) -> Response:
        with pool.connection() as conn:
            version = configstore.change(conn, g.principal, config_dir, path, request.get_data(cache=True),
                                         request.args.get("comment", ""), request.args.get("label") or None)
        return applied(version)

    @routes.get("config", "/config/versions/<path:path>")
    def versions(path: str) -> Response:
        path = configstore.relative_path(config_dir, path)
        with pool.connection() as conn:
            return json_response({"path": path, "versions": [v.as_dict() for v in configstore.history(conn, path)]})

    @routes.post("config", "/config/rollback/<path:path>")
    def rollback(path: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("version") in (None, ""):
            raise invalid("version", "请求体应为 JSON，且包含要回退到的版本号或标签 version",
                          "The body must be JSON with the version number or label to roll back to", )
        with pool.connection() as conn:
            version = configstore.rollback(conn, g.principal, config_dir, path, str(body["version"]),
                                           str(body.get("comment") or ""))
        return applied(version)
