"""/admin/audit, /admin/logs, /admin/backups: the audit trail (CSV too), the
recent log lines and backups; the queries are the plain functions of
onemap.core.audit and onemap.core.logs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from typing import Any

from flask import Response, request
from psycopg_pool import ConnectionPool

from onemap.backup import MANIFEST, BackupError, backup
from onemap.core import audit, logs
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.settings import ROOT, Settings
from onemap.gateway.admin.routes import AdminRoutes, json_response


def register(routes: AdminRoutes, settings: Settings, pool: ConnectionPool) -> None:
    max_items = int(settings.gateway["limits"]["max_items"])

    @routes.get("audit", "/audit")
    def audit_query() -> Response:
        q = audit.AuditQuery(
            actor=request.args.get("actor") or None, action=request.args.get("action") or None,
            target=request.args.get("target") or None, status=_integer("status", None),
            since=_time("from"), until=_time("to"), request_id=request.args.get("request_id") or None,
            limit=_limit(max_items), offset=_integer("offset", 0))
        with pool.connection() as conn:
            rows, total = audit.query(conn, q)
        if request.args.get("f") == "csv":
            return _csv(rows)
        return json_response({"numberMatched": total, "numberReturned": len(rows), "offset": q.offset, "records": rows})

    @routes.get("logs", "/logs")
    def log_query() -> Response:
        level = (request.args.get("level") or "").upper() or None
        if level is not None and level not in logs.LEVELS:
            raise invalid("level", f"level 应为 {' / '.join(logs.LEVELS)} 之一",
                          f"level must be one of {', '.join(logs.LEVELS)}")
        q = logs.LogQuery(level=level, component=request.args.get("component") or None,
                          request_id=request.args.get("request_id") or None, since=_time("since"),
                          limit=_limit(max_items))
        lines = logs.recent_lines(settings.log_dir, q)
        return json_response({"numberReturned": len(lines), "lines": lines})

    backups_dir = settings.var_dir / "backups"

    @routes.post("backup", "/backups")
    def backup_now() -> Response:
        """A backup (as `onemap backup`) into var/backups/<UTC time>; a
        restore stays a console command: it replaces the database."""
        name = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        try:
            manifest = backup(settings.database_url, settings.config_dir, ROOT, backups_dir / name)
        except BackupError as exc:
            shutil.rmtree(backups_dir / name, ignore_errors=True)  # no half backup to restore from later
            raise OneMapError(Problem(500, "NoApplicableCode", f"备份失败：{exc}", f"The backup failed: {exc}")) from exc
        return json_response(_backup_summary(name, manifest), 201)

    @routes.get("backup", "/backups")
    def backup_list() -> Response:
        found = []
        for path in sorted(backups_dir.glob("*/" + MANIFEST), reverse=True):
            found.append(_backup_summary(path.parent.name, json.loads(path.read_text(encoding="utf-8"))))
        return json_response({"directory": str(backups_dir), "backups": found})



def _backup_summary(name: str, manifest: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "created": manifest["created"], "tables": len(manifest["tables"]),
            "rows": sum(t["rows"] for t in manifest["tables"].values()), "files": len(manifest["files"]),
            "rowsByTable": {table: t["rows"] for table, t in manifest["tables"].items()}}


def _csv(rows: list[dict[str, Any]]) -> Response:
    """UTF-8 with a byte-order mark: Excel then reads the Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(audit.COLUMNS)
    for row in rows:
        writer.writerow([json.dumps(v, ensure_ascii=False) if isinstance(v, dict)
                         else v.isoformat() if isinstance(v, dt.datetime) else v for v in row.values()])
    return Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


def _integer(name: str, default: int | None) -> int | None:
    text = request.args.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid(name, f"{name} 应为整数", f"{name} must be an integer") from None
    if value < 0:
        raise invalid(name, f"{name} 不能为负数", f"{name} must not be negative")
    return value


def _limit(max_items: int) -> int:
    """The page size; above the maximum it is the maximum, as OGC API
    Features does with `limit` (Part 1, 7.15.3: not an error)."""
    value = _integer("limit", 100)
    if value == 0:
        raise invalid("limit", "limit 应为正整数", "limit must be a positive integer")
    return min(value or 100, max_items)


def _time(name: str) -> dt.datetime | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise invalid(name, f"{name} 应为带时区的 RFC 3339 时间，如 2026-01-01T00:00:00+08:00",
                      f"{name} must be an RFC 3339 time with a time zone, e.g. 2026-01-01T00:00:00+08:00")
    return value
