"""The integration routes: /admin/outbox, the administrator's view of the
outbox (发件箱) — list, show one message with its delivery log, replay a
dead one — and /admin/uploads, the uploads to the province (成果上报) with
the unit each is for, guarded by the `integration` administration function;
/embed/case/{case_id}, the e-government portal's case map (integration.embed).
The delivery worker starts in each gateway worker that builds this blueprint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, request, send_from_directory

from integration import embed, outbox, province, upload
from integration.config import IntegrationConfig
from integration.transports import TRANSPORTS
from onemap.core import db
from onemap.core.access import AccessPolicy
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.settings import Settings


def blueprint(settings: Settings, policy: AccessPolicy) -> Blueprint:
    config = IntegrationConfig.of(settings)
    outbox.start_worker(settings, config, TRANSPORTS, (province.sync_task(config),))
    max_items = int(settings.gateway["limits"]["max_items"])
    bp = Blueprint("integration", __name__)

    @bp.before_request
    def _administrators_only() -> None:
        if request.path.startswith("/admin/"):  # the embedded map decides by the caller's checks and layers
            problem = policy.check_admin(g.principal, "integration")
            if problem is not None:
                raise OneMapError(problem)

    @bp.get("/embed/case/<case_id>")
    def embed_page(case_id: str) -> Response:
        """The static page: no data in it, so no access check (its data route has one)."""
        return send_from_directory(_STATIC, "embed.html")

    @bp.get("/embed/static/<path:filename>")
    def embed_static(filename: str) -> Response:
        return send_from_directory(_STATIC, filename)

    @bp.get("/embed/case/<case_id>.json")
    def embed_data(case_id: str) -> Response:
        with db.connect(settings.database_url, autocommit=True) as conn:
            return _json(embed.case_map(conn, case_id, g.principal, policy, settings))

    @bp.get("/admin/outbox")
    def listing() -> Response:
        state, limit, offset = _state(outbox.STATES), min(_count("limit", 100) or 100, max_items), _count("offset", 0)
        with db.connect(settings.database_url, autocommit=True) as conn:
            rows, total = outbox.messages(conn, state, request.args.get("partner") or None, limit, offset)
        return _json({"numberMatched": total, "numberReturned": len(rows), "offset": offset, "messages": rows})

    @bp.get("/admin/uploads")
    def uploads() -> Response:
        state, limit, offset = _state(upload.STATES), min(_count("limit", 100) or 100, max_items), _count("offset", 0)
        with db.connect(settings.database_url, autocommit=True) as conn:
            rows, total = upload.uploads(conn, state, limit, offset)
        return _json({"numberMatched": total, "numberReturned": len(rows), "offset": offset, "uploads": rows})

    @bp.get("/admin/outbox/<int:message_id>")
    def show(message_id: int) -> Response:
        with db.connect(settings.database_url, autocommit=True) as conn:
            found = outbox.message(conn, message_id)
        if found is None:
            raise _not_found(message_id)
        return _json(found)

    @bp.post("/admin/outbox/<int:message_id>/replay")
    def replay(message_id: int) -> Response:
        with db.connect(settings.database_url) as conn:
            before = outbox.replay(conn, message_id)
        if before is None:
            raise _not_found(message_id)
        if before != "dead":
            raise OneMapError(Problem(409, "Conflict", f"消息 {message_id} 状态为 {before}，只有死信可以重发",
                                      f"Message {message_id} is {before}: only a dead message can be replayed",
                                      field="id"))
        return _json({"id": message_id, "state": "pending"})

    return bp


_STATIC = Path(__file__).parent / "static"


def health() -> str:
    """/healthz: the outbox table answers; how many messages wait or are dead
    (a partner that is down is not our outage: reported, not failed)."""
    settings = Settings.from_env()
    with db.connect(settings.database_url, autocommit=True) as conn:
        counts = dict(conn.execute("SELECT state, count(*) FROM integration.outbox "
                                   "WHERE state IN ('pending', 'dead') GROUP BY state").fetchall())
    return f"outbox: {counts.get('pending', 0)} pending, {counts.get('dead', 0)} dead"


def _not_found(message_id: int) -> OneMapError:
    return OneMapError(Problem(404, "NotFound", f"发件箱中没有消息 {message_id}", f"No outbox message {message_id}",
                               field="id"))


def _state(states: tuple[str, ...]) -> str | None:
    state = request.args.get("state") or None
    if state is not None and state not in states:
        raise invalid("state", f"state 应为 {' / '.join(states)} 之一", f"state must be one of {', '.join(states)}")
    return state


def _count(name: str, default: int) -> int:
    text = request.args.get(name)
    if not text:
        return default
    if not text.isdigit():
        raise invalid(name, f"{name} 应为非负整数", f"{name} must be a non-negative integer")
    return int(text)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    content_type="application/json; charset=utf-8")
