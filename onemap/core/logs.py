"""Structured logs (运行日志): one JSON object a line — time, level,
component, message, request_id, principal, and for requests method, path,
status, duration_ms — from the gateway, the process jobs and the CLI, into
one size-rotated file (`logging:` of config/gateway.yaml). The request id
and the caller travel in context variables, so a job's thread and the audit
writer see the id of the request that started them."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from concurrent_log_handler import ConcurrentRotatingFileHandler
from pythonjsonlogger.json import JsonFormatter

LOG_FILE = "onemap.log"
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
PRINCIPAL: ContextVar[str | None] = ContextVar("principal", default=None)
COMPONENT: ContextVar[str | None] = ContextVar("component", default=None)

# an id a client or a proxy may hand us: short, printable, no separators
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def request_id_from(header: str | None) -> str:
    """The incoming X-Request-Id when it is a valid one, else a new id."""
    if header and _VALID_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


class _Context(logging.Filter):
    """Stamps every record with the request's context."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        record.component = getattr(record, "component", None) or COMPONENT.get() or self.component
        record.request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        record.principal = getattr(record, "principal", None) or PRINCIPAL.get()
        return True


class _PygeoapiNoise(logging.Filter):
    """Drops pygeoapi's warning on every items request without `offset`
    (it logs the TypeError of int(None) and goes on with 0): at city scale
    one line a request, a sixth of the logging time of an items page."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "pygeoapi.api.itemtypes" and record.levelno == logging.WARNING
                    and isinstance(record.msg, TypeError))


def configure(component: str, log_dir: Path, settings: dict[str, Any]) -> Path:
    """Send this process's logs as JSON lines to `log_dir/onemap.log`.

    Rotation by size (`file_max_mb`, `backups`): the handler is
    concurrent-log-handler's drop-in for logging's RotatingFileHandler, which
    locks around each write and rollover, because several gunicorn workers
    and the CLI write the same file (logging's own handler would rotate the
    file under another process's feet)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    root = logging.getLogger()
    if any(getattr(h, "onemap_log", False) for h in root.handlers):
        return path
    handler = ConcurrentRotatingFileHandler(str(path), maxBytes=int(float(settings["file_max_mb"]) * 1024 * 1024),
                                            backupCount=int(settings["backups"]), encoding="utf-8")
    handler.onemap_log = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter(
        "{levelname}{component}{message}{request_id}{principal}", style="{", timestamp="time",
        rename_fields={"levelname": "level"}, json_ensure_ascii=False))
    handler.addFilter(_PygeoapiNoise())
    handler.addFilter(_Context(component))
    root.addHandler(handler)
    root.setLevel(settings.get("level", "INFO"))
    for name, level in (settings.get("loggers") or {}).items():
        logging.getLogger(name).setLevel(level)
    return path


@dataclass(frozen=True)
class LogQuery:
    """Which recent lines to return (the admin query)."""

    level: str | None = None  # this level and above
    component: str | None = None  # this component and its sub-components (gateway -> gateway.access)
    request_id: str | None = None
    since: datetime | None = None  # lines at or after it
    limit: int = 100

    def matches(self, line: dict[str, Any]) -> bool:
        if self.level and LEVELS.index(str(line.get("level", "INFO"))) < LEVELS.index(self.level):
            return False
        component = str(line.get("component", ""))
        if self.component and component != self.component and not component.startswith(self.component + "."):
            return False
        if self.request_id and line.get("request_id") != self.request_id:
            return False
        if self.since is None:
            return True
        try:
            return datetime.fromisoformat(str(line.get("time"))) >= self.since
        except ValueError:
            return False


def _lines_newest_first(log_dir: Path) -> Iterator[str]:
    files = [log_dir / LOG_FILE, *sorted(log_dir.glob(LOG_FILE + ".*"),
                                         key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)]
    for path in files:
        if path.exists():
            yield from reversed(path.read_text(encoding="utf-8", errors="replace").splitlines())


def recent_lines(log_dir: Path, query: LogQuery) -> list[dict[str, Any]]:
    """The newest `query.limit` lines that match, newest first (the current
    file, then the rotated ones)."""
    found: list[dict[str, Any]] = []
    for text in _lines_newest_first(log_dir):
        try:
            line = json.loads(text)
        except ValueError:
            continue  # a line cut by a crash
        if isinstance(line, dict) and query.matches(line):
            found.append(line)
            if len(found) >= query.limit:
                break
    return found
