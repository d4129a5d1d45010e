"""The portal's HTTP shell: the public portal /public/ (its page and
/public/api/…: publications under notice, approved comments, posting
comments and reports, a report's status by tracking number) and the staff's
/moderation/ page and /moderation/api/… (moderating comments, triaging
reports, writing, publishing and withdrawing publications). Who may do
what is the roles' `participation` permission (the access policy); every
moderation, triage and publication step is written with its audit row in one
transaction; posting is rate-limited per client address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from flask import Blueprint, Response, current_app, g, jsonify, request, send_from_directory
from psycopg_pool import ConnectionPool

from onemap.core import audit
from onemap.core.access import AccessPolicy
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.ratelimit import RateLimit
from onemap.core.registry import Layer, load_layers
from onemap.core.settings import ROOT, Settings
from processes.participation import comments, publications, reports
from processes.participation.photos import clean_photo
from processes.participation.settings import from_gateway

_PAGES = ROOT / "viewer" / "src"
_NO_STORE = {"Cache-Control": "no-store"}


def blueprint(settings: Settings, policy: AccessPolicy) -> Blueprint:
    config = from_gateway(settings.gateway)
    posting = config.posting
    bp = Blueprint("participation", __name__)

    def pool() -> ConnectionPool:
        return current_app.config["onemap.pool"]

    def rate_limited(kind: str) -> None:
        with pool().connection() as conn:
            wait = posting.take(conn, f"{kind} {request.remote_addr or ''}")
        if wait is not None:
            raise _TooMany(posting, wait)

    def staff_step(action: str, target: str, work: Callable[[psycopg.Connection], dict[str, Any]]) -> Response:
        """A moderation or triage step and its audit row, one transaction."""
        with pool().connection() as conn, conn.transaction():
            result = work(conn)
            audit.record(conn, g.principal, action, target, 200, detail=result)
        return jsonify(result)

    def need(right: str) -> None:
        problem = policy.check_participation(g.principal, right)
        if problem is not None:
            raise OneMapError(problem)

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise invalid(None, "请求体应为 JSON 对象", "The body must be a JSON object")
        return data

    # --- pages ---------------------------------------------------------------
    @bp.get("/public/")
    @bp.get("/public/<path:name>")
    def portal_page(name: str = "index.html") -> Response:
        return send_from_directory(_PAGES / "public", name)

    @bp.get("/moderation/")
    @bp.get("/moderation/<path:name>")
    def moderation_page(name: str = "index.html") -> Response:
        # the page holds no data: it signs in and calls /moderation/api/…
        return send_from_directory(_PAGES / "moderation", name)

    # --- the public API ------------------------------------------------------
    @bp.get("/public/api/publications")
    def list_publications() -> Response:
        with pool().connection() as conn:
            return jsonify(publications.current(conn))

    @bp.get("/public/api/publications/<gsbh>")
    def show_publication(gsbh: str) -> Response:
        with pool().connection() as conn:
            return jsonify({**publications.find_current(conn, gsbh), "comments": comments.approved(conn, gsbh)})

    @bp.post("/public/api/publications/<gsbh>/comments")
    def post_comment(gsbh: str) -> tuple[Response, int]:
        rate_limited("comment")
        data = body()
        with pool().connection() as conn, conn.transaction():
            return jsonify(comments.submit(conn, gsbh, data)), 201

    @bp.post("/public/api/reports")
    def post_report() -> tuple[Response, int]:
        rate_limited("report")
        uploads = [f for f in request.files.getlist("photos") if f.filename]
        if len(uploads) > reports.MAX_PHOTOS:
            raise invalid("photos", f"照片最多 {reports.MAX_PHOTOS} 张，收到 {len(uploads)} 张",
                          f"At most {reports.MAX_PHOTOS} photos, {len(uploads)} received")
        photos = [clean_photo(f"photos[{n}]", upload.read(), config.photo_max_bytes) for n, upload in enumerate(uploads, 1)]
        with pool().connection() as conn, conn.transaction():
            return jsonify(reports.submit(conn, request.form.to_dict(), photos, g.principal.name)), 201

    @bp.get("/public/api/reports/<number>")
    def report_status(number: str) -> Response:
        with pool().connection() as conn:
            return jsonify(reports.status(conn, number)), 200, _NO_STORE

    # --- staff: moderation and triage ----------------------------------------
    @bp.get("/moderation/api/comments")
    def comments_to_moderate() -> Response:
        need("moderate")
        with pool().connection() as conn:
            return jsonify(comments.for_moderation(conn, request.args.get("state") or None)), 200, _NO_STORE

    @bp.post("/moderation/api/comments/<int:comment_id>")
    def moderate_comment(comment_id: int) -> Response:
        need("moderate")
        data = body()
        return staff_step("moderate-comment", f"/moderation/api/comments/{comment_id}",
                          lambda conn: comments.moderate(conn, comment_id, data, g.principal.name))

    @bp.get("/moderation/api/reports")
    def reports_to_triage() -> Response:
        need("triage")
        with pool().connection() as conn:
            return jsonify(reports.for_triage(conn, request.args.get("status") or None)), 200, _NO_STORE

    @bp.get("/moderation/api/reports/<int:report_id>/photos/<int:position>")
    def report_photo(report_id: int, position: int) -> Response:
        need("triage")
        with pool().connection() as conn:
            photo = reports.photo(conn, report_id, position)
        return Response(photo.content, content_type=photo.media_type, headers=_NO_STORE)

    @bp.post("/moderation/api/reports/<int:report_id>")
    def triage_report(report_id: int) -> Response:
        need("triage")
        data = body()
        return staff_step("triage-report", f"/moderation/api/reports/{report_id}",
                          lambda conn: reports.triage(conn, report_id, data, g.principal.name))

    # --- staff: 公开公示管理 (drafts, edits, publish, withdraw) ---------------------
    def registry() -> list[Layer]:
        # read at each step: the layers may change through the admin page
        return load_layers(settings.config_dir / "layers.yaml")

    @bp.get("/moderation/api/publications")
    def publications_for_staff() -> Response:
        need("publish")
        with pool().connection() as conn:
            return jsonify(publications.for_staff(conn)), 200, _NO_STORE

    @bp.post("/moderation/api/publications")
    def create_publication() -> tuple[Response, int]:
        need("publish")
        publication = publications.from_json(body())
        return staff_step("create-publication", f"/moderation/api/publications/{publication.gsbh}",
                          lambda conn: publications.create(conn, publication, registry())), 201

    @bp.put("/moderation/api/publications/<gsbh>")
    def edit_publication(gsbh: str) -> Response:
        need("publish")
        publication = publications.from_json({**body(), "gsbh": gsbh})
        return staff_step("edit-publication", f"/moderation/api/publications/{gsbh}",
                          lambda conn: publications.edit(conn, publication, registry()))

    @bp.post("/moderation/api/publications/<gsbh>/<any(publish, withdraw):step>")
    def publication_step(gsbh: str, step: str) -> Response:
        need("publish")
        state = {"publish": "published", "withdraw": "withdrawn"}[step]
        return staff_step(f"{step}-publication", f"/moderation/api/publications/{gsbh}",
                          lambda conn: publications.set_state(conn, gsbh, state))

    @bp.errorhandler(_TooMany)
    def _too_many(exc: _TooMany) -> Response:
        return Response(exc.problem.to_json(), status=429, content_type="application/json; charset=utf-8",
                        headers={"Retry-After": str(exc.wait)})

    return bp


class _TooMany(OneMapError):
    def __init__(self, rate: RateLimit, wait: int) -> None:
        super().__init__(Problem(
            429, "TooManyRequests",
            f"提交过于频繁：每个地址最多连续提交 {rate.burst} 次，之后每 {1 / rate.per_second:g} 秒 1 次，请 {wait} 秒后重试",
            f"Too many submissions: {rate.burst} in a row per address, then one every {1 / rate.per_second:g} s; "
            f"retry in {wait} s", field="rate"))
        self.wait = wait
