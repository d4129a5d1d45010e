"""The gateway: the one front door on ONEMAP_PORT.

It gives every request an id (X-Request-Id), authenticates the caller,
limits anonymous callers' rate, applies the access policy, records state
changes in the audit trail, logs each request as a JSON line, and hands the
request to the component behind the path (pygeoapi at /ogc; the others as
they are added). Every error it returns is bilingual JSON.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import psycopg
from flask import Flask, Response, g, request, send_file, send_from_directory
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import run_wsgi_app

from onemap.core import audit, logs
from onemap.core.access import AccessPolicy
from onemap.core.auth import ANONYMOUS, Principal
from onemap.core.components import Components, load_object
from onemap.core.db import open_pool
from onemap.core.errors import (
    DATABASE_DOWN,
    RETRY_AFTER_S,
    OneMapError,
    Problem,
    bilingual,
    chinese_for,
)
from onemap.core.ratelimit import RateLimit
from onemap.core.registry import ProcessEntry, load_layers, load_processes
from onemap.core.settings import ROOT, Settings
from onemap.gateway import admin, basemaps, download, signin
from onemap.gateway.csw import csw_checks, register_csw
from onemap.gateway.health import HealthCheck, default_checks, map_checks, run_checks
from onemap.gateway.responses import problem_response
from onemap.maps.service import MapServices, bilingual_exception, check_parameters
from onemap.maps.tilecache import CachedTile
from onemap.ogc import patches
from onemap.ogc.config import AUDIENCES, SCHEMAS_DIR, config_path, openapi_path
from onemap.styles.documents import style_document, style_layer

_load_lock = threading.Lock()
LOGGER = logging.getLogger("onemap.gateway")


def load_pygeoapi(settings: Settings, audience: str) -> Flask:
    """A pygeoapi Flask application for one audience's configuration.

    pygeoapi reads its configuration at import time from environment
    variables, so each configuration (an audience of a gateway's settings)
    gets its own copy of the flask_app module: a second gateway in one
    process (the tests' partner gateways) must not serve the first's.
    """
    config = config_path(settings, audience)
    name = f"onemap_pygeoapi_{audience}_{hashlib.sha1(str(config).encode()).hexdigest()[:12]}"
    with _load_lock:
        if name in sys.modules:
            return sys.modules[name].APP
        os.environ["PYGEOAPI_CONFIG"] = str(config)
        os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path(settings, audience))
        spec = importlib.util.find_spec("pygeoapi.flask_app")
        assert spec is not None and spec.origin is not None
        module_spec = importlib.util.spec_from_file_location(name, spec.origin)
        assert module_spec is not None and module_spec.loader is not None
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        patches.install()
        module_spec.loader.exec_module(module)
        return module.APP


def create_app(settings: Settings | None = None,
               checks: list[HealthCheck] | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("gateway", settings.log_dir, settings.gateway["logging"])
    rate = RateLimit.from_config(settings.gateway["limits"])
    layers = load_layers(settings.config_dir / "layers.yaml")
    processes = {p.id: p for p in load_processes(settings.config_dir / "processes.yaml")}
    policy = AccessPolicy.from_config(settings.gateway, layers, list(processes.values()))
    pool = open_pool(settings.database_url, "onemap-gateway")
    ogc_apps = {audience: load_pygeoapi(settings, audience) for audience in AUDIENCES}
    maps = MapServices.load(settings, layers)
    components = Components.load(settings.config_dir)
    health_checks = checks if checks is not None else (
        default_checks(settings, pool, ogc_apps) + map_checks(settings, maps.apps) + csw_checks(settings)
        + [HealthCheck(name, load_object(check), name in components.partner_checks)
           for name, check in components.health_checks])

    app = Flask("onemap.gateway", static_folder=None)
    if settings.proxies:  # behind a balancer: trust as many X-Forwarded-For entries, no more
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies)  # type: ignore[method-assign]
    app.config["onemap.pool"] = pool
    for factory in components.blueprints:
        app.register_blueprint(load_object(factory)(settings, policy))
    app.register_blueprint(basemaps.blueprint(settings, policy, maps.sensitivity))
    app.register_blueprint(download.blueprint(settings, policy))
    app.config["MAX_CONTENT_LENGTH"] = int(float(settings.gateway["limits"]["upload_max_mb"]) * 1024 * 1024)

    @app.before_request
    def _request_id() -> None:
        # first of all, so sign-in failures are logged with it too; set in
        # every request: a worker thread keeps its context variables
        g.request_id = logs.request_id_from(request.headers.get("X-Request-Id"))
        g.started = time.monotonic()
        logs.REQUEST_ID.set(g.request_id)
        logs.PRINCIPAL.set(None)

    app.register_blueprint(admin.blueprint(settings, signin.install(app, settings, policy, pool), pool))

    @app.before_request
    def _principal_to_logs() -> None:
        logs.PRINCIPAL.set(g.principal.name)

    @app.before_request
    def _rate_limit() -> Response | None:
        if not g.principal.is_anonymous or request.path == "/healthz":
            return None
        try:
            with pool.connection(timeout=_RATE_LIMIT_WAIT_S) as conn:
                wait = rate.take(conn, request.remote_addr or "")
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # open when the database is away: the viewer and cached tiles need none
            LOGGER.warning("rate limit not checked: %s", exc)
            return None
        if wait is None:
            return None
        return problem_response(Problem(
            429, "TooManyRequests",
            f"请求过于频繁：匿名访问每个地址每秒 {rate.per_second:g} 次（可突发 {rate.burst} 次），请 {wait} 秒后重试",
            f"Too many requests: anonymous clients may make {rate.per_second:g} requests a second per address "
            f"(bursts of {rate.burst}): retry in {wait} s"), {"Retry-After": str(wait)})

    @app.after_request
    def _finish(response: Response) -> Response:
        # registered before _audit, so it runs after it: the status is final
        response.headers["X-Request-Id"] = g.get("request_id", "")
        status = response.status_code
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        LOGGER.log(level, "%s %s %s", request.method, request.path, status, extra={
            "component": "gateway.access", "method": request.method, "path": request.path, "status": status,
            "duration_ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1000, 1)})
        return response

    @app.after_request
    def _audit(response: Response) -> Response:
        # 全过程留痕: every state-changing request, whatever its outcome.
        if request.method not in ("GET", "HEAD", "OPTIONS") or g.get("audit"):
            principal: Principal = g.get("principal", ANONYMOUS)
            try:
                body = request.get_data(cache=True) or b""
            except RequestEntityTooLarge:
                body = b""  # refused unread (413): nothing to hash
            with pool.connection() as conn:
                # a password in the body: its hash would let a guess be checked offline
                audit.record(conn, principal, request.method, request.path, response.status_code,
                             None if g.get("secret_body") else audit.sha256_hex(body),
                             detail={"query": request.query_string.decode(errors="replace"),
                                     "remote": request.remote_addr})
        return response

    @app.errorhandler(OneMapError)
    def _onemap_error(exc: OneMapError) -> Response:
        return problem_response(exc.problem)

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_down(exc: Exception) -> Response:
        LOGGER.error("database unavailable: %s", exc)
        return problem_response(DATABASE_DOWN)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 413:
            limit_mb = settings.gateway["limits"]["upload_max_mb"]
            return problem_response(Problem(413, "PayloadTooLarge", f"请求内容过大：超过 {limit_mb} MB 的上限",
                                            f"The request body is larger than the limit of {limit_mb} MB"))
        return problem_response(Problem(code, exc.name.replace(" ", ""), chinese_for(code, exc.name)[0], exc.name))

    @app.get("/healthz")
    def healthz() -> Response:
        report = run_checks(health_checks)
        return Response(json.dumps(report, ensure_ascii=False), status=200 if report["status"] == "up" else 503,
                        content_type="application/json; charset=utf-8")

    @app.get("/")
    def index() -> Response:
        # without MapLibre (npm not run, e.g. a bare image) the viewer cannot
        # draw: the landing page still leads to the services
        if (_MAPLIBRE_DIR / "maplibre-gl.mjs").exists():
            return send_from_directory(_VIEWER_DIR, "index.html")
        return Response(_LANDING_HTML.format(base=settings.base_url), content_type="text/html; charset=utf-8")

    @app.get("/viewer/maplibre-gl/<path:filename>")
    def viewer_maplibre(filename: str) -> Response:
        return send_from_directory(_MAPLIBRE_DIR, filename)

    @app.get("/viewer/geodesic/<path:filename>")
    def viewer_geodesic(filename: str) -> Response:
        return send_from_directory(_GEODESIC_DIR, filename)

    @app.get("/viewer/<path:filename>")
    def viewer_file(filename: str) -> Response:
        return send_from_directory(_VIEWER_DIR, filename)

    @app.get("/schemas/ogc/<path:filename>")
    def ogc_schema(filename: str) -> Response:
        # the OGC schemas the OpenAPI document references, bundled (offline)
        response = send_from_directory(SCHEMAS_DIR, filename)
        if filename.endswith(".yaml"):
            response.headers["Content-Type"] = "application/yaml; charset=utf-8"
        return response

    @app.route("/ogc", defaults={"path": ""}, methods=_METHODS)
    @app.route("/ogc/", defaults={"path": ""}, methods=_METHODS)
    @app.route("/ogc/<path:path>", methods=_METHODS)
    def ogc(path: str) -> Response:
        principal: Principal = g.principal
        sub_path = "/" + path
        problem = (policy.check_collection_path(sub_path, principal)
                   or policy.check_process_path(sub_path, request.method, principal))
        if problem is not None:
            return problem_response(problem)
        target = ogc_apps[policy.audience(principal, policy.collection_of(sub_path))]
        upload = _UPLOAD_PATH.match(sub_path)
        if upload and request.method == "POST":
            body = execute_request_from_upload(processes.get(upload.group(1)))
            return forward(target, "/ogc", f"/processes/{upload.group(1)}/execution", body=body)
        return forward(target, "/ogc", sub_path)

    @app.route("/mapproxy", defaults={"path": ""}, methods=["GET", "HEAD"])
    @app.route("/mapproxy/<path:path>", methods=["GET", "HEAD"])
    def mapproxy(path: str) -> Response:
        principal: Principal = g.principal
        names = maps.names("/" + path, request.args)
        for name in names:
            problem = policy.check_layer(name, principal, maps.sensitivity)
            if problem is not None:
                return problem_response(problem)
        problem = check_parameters(request.args)
        if problem is not None:
            return problem_response(problem)
        maps.plan_state.check(pool)
        audience = policy.audience(principal, names)
        cached = maps.tiles.lookup("/" + path, audience)
        if cached is not None:
            return tile_response(cached, public=all(maps.sensitivity[n] == "public" for n in names))
        return forward(maps.apps[audience], "/mapproxy", "/" + path, rewrite_error=bilingual_exception)

    @app.get("/styles/<style_id>.<fmt>")
    def style(style_id: str, fmt: str) -> Response:
        layer = style_layer(style_id, layers, request.args.get("layer") or None)
        problem = policy.check_layer(layer.id, g.principal)
        if problem is not None:
            return problem_response(problem)
        body, media_type = style_document(style_id, fmt, layer, settings.base_url)
        return Response(body, content_type=f"{media_type}; charset=utf-8")

    register_csw(app, settings, policy)
    return app


_RATE_LIMIT_WAIT_S = 2
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_VIEWER_DIR = ROOT / "viewer" / "src"
# served from the npm package as installed (scripts/bootstrap): no copy to keep in step
_MAPLIBRE_DIR = ROOT / "viewer" / "node_modules" / "maplibre-gl" / "dist"
_GEODESIC_DIR = ROOT / "viewer" / "node_modules" / "geographiclib-geodesic"  # measure: ellipsoidal lengths, areas
_UPLOAD_PATH = re.compile(r"^/processes/([^/]+)/upload/?$")
_TILE_MAX_AGE_S = 3600


def tile_response(tile: CachedTile, public: bool) -> Response:
    """A cached tile as a file response: ETag and If-None-Match (304) by
    werkzeug; a tile of a versioned layer is revalidated at every use (a
    publish changes it), another kept for an hour, by shared caches only
    when public."""
    response = send_file(tile.path, mimetype="image/png", conditional=True, etag=True, max_age=None)
    response.cache_control.public = public
    response.cache_control.private = not public
    # send_file says no-cache whatever the file
    response.cache_control.no_cache = True if tile.versioned else None
    if not tile.versioned:
        response.cache_control.max_age = _TILE_MAX_AGE_S
    return response


def execute_request_from_upload(process: ProcessEntry | None) -> bytes:
    """An OGC API Processes execute request from a multipart upload: the file
    becomes the process's `upload_input` as a base64 qualified value, the
    other form fields the other inputs (JSON values where they parse)."""
    if process is None or not process.upload_input:
        raise OneMapError(Problem(404, "NotFound", "该处理服务不接受文件上传",
                                  "This process takes no file upload", field="processId"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise OneMapError(Problem(400, "MissingParameterValue", "缺少上传文件（表单字段 file）",
                                  "No file uploaded (multipart field 'file')", field="file"))
    content = upload.read()
    if not content:
        raise OneMapError(Problem(400, "InvalidParameterValue", "上传文件为空", "The uploaded file is empty",
                                  field="file"))
    inputs: dict[str, Any] = {}
    for key, value in request.form.items():
        try:
            inputs[key] = json.loads(value)
        except ValueError:
            inputs[key] = value
    inputs[process.upload_input] = {
        "value": base64.b64encode(content).decode("ascii"),
        "encoding": "base64",
        "mediaType": upload.mimetype or "application/octet-stream",
        "filename": upload.filename,
    }
    return json.dumps({"inputs": inputs}, ensure_ascii=False).encode("utf-8")

_LANDING_HTML = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<title>国土空间规划"一张图" / One Map</title>
<h1>国土空间规划"一张图" <small>One Map</small></h1>
<ul>
<li><a href="{base}/ogc/">OGC API（要素、瓦片、处理）/ OGC API Features, Tiles, Processes</a></li>
<li><a href="{base}/csw?service=CSW&amp;request=GetCapabilities">数据目录服务（CSW）/ Catalogue (CSW)</a></li>
<li><a href="{base}/healthz">运行状态 / health</a></li>
</ul></html>"""


ErrorRewrite = Callable[[int, str, bytes], "tuple[int, bytes] | None"]


def forward(target: Callable[..., Iterable[bytes]], mount: str, sub_path: str,
            body: bytes | None = None, rewrite_error: ErrorRewrite | None = None) -> Response:
    """Run a mounted WSGI application for this request (with `body` as a JSON
    request body instead of the client's, when given); make its errors
    bilingual: by `rewrite_error` (status, content type, body -> status, body,
    or None) when given and it applies, else as bilingual JSON."""
    environ = dict(request.environ)
    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + mount
    environ["PATH_INFO"] = sub_path.encode("utf-8").decode("latin-1")  # WSGI: bytes as latin-1 text
    environ["onemap.principal"] = g.get("principal")  # who runs a process (onemap.ogc.jobs)
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
    else:
        body = request.get_data(cache=True)  # cached: the audit trail hashes it too
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    app_iter, status, headers = run_wsgi_app(target, environ, buffered=False)
    code = int(status.split(" ", 1)[0])
    content_type = headers.get("Content-Type", "")
    if code == 503:
        headers["Retry-After"] = RETRY_AFTER_S
    if code >= 400 and "html" not in content_type:
        body = b"".join(app_iter)
        if hasattr(app_iter, "close"):
            app_iter.close()
        rewritten = rewrite_error(code, content_type, body) if rewrite_error else None
        if rewritten is not None:
            code, body = rewritten
            headers.remove("Content-Length")
            return Response(body, status=code, headers=list(headers))
        try:
            data = json.loads(body) if "json" in content_type else {"description": body.decode().strip()}
            body = json.dumps(bilingual(code, data), ensure_ascii=False).encode("utf-8")
            headers.remove("Content-Length")
            headers["Content-Type"] = "application/json; charset=utf-8"
        except (ValueError, AttributeError, UnicodeDecodeError):
            pass
        return Response(body, status=status, headers=list(headers))
    return Response(app_iter, status=status, headers=list(headers), direct_passthrough=True)


def wsgi_app() -> Any:
    """Entry point for gunicorn: `onemap.gateway.app:wsgi_app()`."""
    return create_app()
