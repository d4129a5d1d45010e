"""The gateway's error response: a Problem as bilingual JSON, with the
headers its status calls for."""

from __future__ import annotations

from flask import Response, request

from onemap.core.auth import challenge
from onemap.core.errors import RETRY_AFTER_S, Problem


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    response = Response(problem.to_json(), status=problem.status,
                        content_type="application/json; charset=utf-8")
    if problem.status == 401:
        response.headers["WWW-Authenticate"] = challenge(request.headers.get("Authorization", ""))
    if problem.status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_S
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
