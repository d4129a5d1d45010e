"""What every /admin route shares: the administration function it belongs
to, the JSON response and the JSON body."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from onemap.core.access import ADMIN_FUNCTIONS
from onemap.core.errors import invalid


class AdminRoutes:
    """Routes on the one /admin blueprint, each declared with the
    administration function (config/gateway.yaml `administers`) that a
    caller's role must hold; the blueprint's guard reads `functions`."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.functions: dict[str, str] = {}

    def route(self, function: str, rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if function not in ADMIN_FUNCTIONS:
            raise ValueError(f"unknown administration function {function!r}")

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            self.functions[f"{self.blueprint.name}.{view.__name__}"] = function
            self.blueprint.add_url_rule(rule, view.__name__, view, methods=methods)
            return view
        return register

    def get(self, function: str, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(function, rule, ["GET"])

    def post(self, function: str, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(function, rule, ["POST"])

    def put(self, function: str, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(function, rule, ["PUT"])

    def patch(self, function: str, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(function, rule, ["PATCH"])

    def delete(self, function: str, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(function, rule, ["DELETE"])


def json_response(body: Any, status: int = 200) -> Response:
    """JSON with the Chinese as characters, not escapes."""
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    content_type="application/json; charset=utf-8")


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise invalid(None, "请求体应为 JSON 对象（Content-Type: application/json）",
                      "The body must be a JSON object (Content-Type: application/json)")
    return data
