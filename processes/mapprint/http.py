"""POST /print/map.pdf: the map sheet for signed-in users (the browser sends
the map image it drew; nothing is read from the database)."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from onemap.core.access import AccessPolicy
from onemap.core.errors import OneMapError, Problem
from onemap.core.settings import Settings
from processes.mapprint.render import map_pdf, sheet_from_request


def blueprint(settings: Settings, policy: AccessPolicy) -> Blueprint:
    bp = Blueprint("map_print", __name__)

    @bp.post("/print/map.pdf")
    def print_map() -> Response:
        if g.principal.is_anonymous:
            raise OneMapError(Problem(401, "Unauthorized", "打印输出需要登录", "Printing needs a signed-in user",
                                      field="Authorization"))
        sheet = sheet_from_request(request.get_json(silent=True))
        return Response(map_pdf(sheet), content_type="application/pdf",
                        headers={"Content-Disposition": 'attachment; filename="map.pdf"'})

    return bp
