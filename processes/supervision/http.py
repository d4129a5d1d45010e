"""/admin/indicator-models: indicator model versions for operators (指标模型管理).

  GET  /admin/indicator-models                     every model and its versions
  GET  /admin/indicator-models/<model>             one model's versions
  POST /admin/indicator-models/<model>/activate    {"version": N}: make it the active one
  POST /admin/indicator-models/<model>/rollback    the version before the active one

Models are configuration: every route needs a role that administers
`config` (config/gateway.yaml). Changes are audited (the same functions as
`onemap indicators model …`).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from flask import Blueprint, Response, g, request

from onemap.core.access import AccessPolicy
from onemap.core.errors import OneMapError, invalid
from onemap.core.settings import Settings
from processes.supervision import catalogue


def _json(body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), content_type="application/json; charset=utf-8")


def blueprint(settings: Settings, policy: AccessPolicy) -> Blueprint:
    bp = Blueprint("indicator_models", __name__, url_prefix="/admin/indicator-models")

    @bp.before_request
    def _administrators_only() -> None:
        problem = policy.check_admin(g.principal, "config")
        if problem is not None:
            raise OneMapError(problem)

    def versions(model: str | None) -> list[dict[str, Any]]:
        with psycopg.connect(settings.database_url) as conn:
            catalogue.sync(conn, g.principal.name)
            return catalogue.model_versions(conn, model)

    @bp.get("")
    def all_models() -> Response:
        return _json({"versions": versions(None)})

    @bp.get("/<model>")
    def one_model(model: str) -> Response:
        return _json({"versions": versions(model)})

    @bp.post("/<model>/activate")
    def activate(model: str) -> Response:
        body = request.get_json(silent=True) or {}
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise invalid("version", "请给出要启用的版本号（整数）", "Give the version to activate (an integer)")
        return _json(catalogue.activate_model(settings.database_url, model, version, g.principal))

    @bp.post("/<model>/rollback")
    def rollback(model: str) -> Response:
        return _json(catalogue.activate_model(settings.database_url, model, None, g.principal))

    return bp
