"""本地替身 The partners stood in by small programs on loopback, so that
`make up` shows the integrations working on a machine with no partner, and
the tests exchange with real servers, never mocks:

- `egov`: the e-government system's callback endpoint — verifies our
  HMAC-SHA256 signature with the partner's secret and counts each
  Idempotency-Key, as docs/integration.md asks of a receiver;
- `upload`: the province's plan-upload endpoint — accepts every upload;
- `cloud`: the spatio-temporal cloud — XYZ tiles drawn by MapProxy's
  debug source (tile sets vec, cva, img, cia; the base sets on a ground
  colour of their own, CLOUD_GROUND);
- `province-maps`: the province's WMS — its control lines (PROVINCE_LINES)
  drawn into PNG maps for any box in EPSG:3857, 4490 or 4326.

(The province's CSW is a second pycsw with CSW-T, started by the catalogue.)

A stand-in is one process: `python -m integration.standins KIND --port P
--var VAR --pidfile F --log L` binds its port, then goes to the background
(the port answers when the command returns). `GET /calls` of a receiver
lists what it took."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

from integration.config import IntegrationConfig, secret, standins_file
from integration.signature import verify
from onemap.core.daemon import free_port
from onemap.core.settings import Settings, load_yaml

KINDS = ("egov", "upload", "cloud", "province-maps")
CLOUD_TILE_SETS = ("vec", "cva", "img", "cia")
# the opaque ground of the base tile sets (the annotation sets cva and cia
# stay transparent over them): the user sees which basemap is drawn, and a
# test tells it by a pixel
CLOUD_GROUND = {"vec": (214, 230, 246), "img": (70, 110, 80)}
# each stand-in and the setting of config/integration.yaml that, once set
# (a real partner), makes it unnecessary
REPLACES = {"province-csw": ("province", "csw_url"), "upload": ("province", "upload_url"),
            "cloud": ("cloud", "url"), "egov": None, "province-maps": ("province", "wms_url")}
# the province's WMS layers as it draws them: rings of (longitude, latitude)
# in the demo city, and their fill (an opaque colour: any resampling keeps it)
PROVINCE_LINES = {
    "STBHHX": [[(111.55, 28.35), (111.80, 28.30), (111.95, 28.50), (111.80, 28.70), (111.55, 28.65)],
               [(112.30, 28.85), (112.60, 28.80), (112.55, 29.10), (112.35, 29.15)]],
}
PROVINCE_FILL = (200, 16, 46, 255)


def wanted(config_dir: Path) -> list[str]:
    """The stand-ins `make up` starts: one for each partner endpoint that
    config/integration.yaml leaves empty (none with `standins: false`)."""
    data = load_yaml(config_dir / "integration.yaml") or {}
    if not data.get("standins", True):
        return []
    partners = data.get("partners") or {}
    return [kind for kind, setting in REPLACES.items()
            if setting is None or not (partners.get(setting[0]) or {}).get(setting[1])]


def write_settings(var_dir: Path, urls: dict[str, str]) -> Path:
    """standins_file: the partner settings for the stand-ins at `urls` and
    where each runs (what /healthz shows)."""
    path = standins_file(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"partners": partner_settings(urls), "running": urls}, allow_unicode=True),
                    encoding="utf-8")
    return path


def health() -> str:
    """/healthz (a partner check): the local stand-ins `make up` started,
    each answering HTTP."""
    path = standins_file(Settings.from_env().var_dir)
    running = ((load_yaml(path) or {}) if path.exists() else {}).get("running") or {}
    if not running:
        return "none started"
    down = []
    for kind, url in running.items():
        try:
            requests.get(url, timeout=5)
        except requests.RequestException as exc:
            down.append(f"{kind}: {exc.__class__.__name__}")
    if down:
        raise RuntimeError("; ".join(down))
    return ", ".join(f"{kind} {url}" for kind, url in running.items())


def partner_settings(urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    """config/integration.yaml `partners` settings for the stand-ins at
    `urls` (kind -> base URL; `province-csw` the province's CSW)."""
    partners: dict[str, dict[str, Any]] = {}
    if "province-csw" in urls:
        partners.setdefault("province", {})["csw_url"] = urls["province-csw"]
    if "upload" in urls:
        partners.setdefault("province", {})["upload_url"] = f"{urls['upload']}/uploads"
    if "cloud" in urls:
        partners["cloud"] = {"url": cloud_url(urls["cloud"])}
    if "province-maps" in urls:
        partners.setdefault("province", {})["wms_url"] = province_wms_url(urls["province-maps"])
    # egov: nothing to set (a caller names its callback URLs in `subscriber`)
    return partners


def cloud_url(base: str) -> str:
    """The cloud tile URL template of the stand-in at `base`."""
    return f"{base}/tiles/{{layer}}/GLOBAL_WEBMERCATOR/{{z}}/{{x}}/{{y}}.png?tk={{key}}"


def province_wms_url(base: str) -> str:
    """The capabilities URL of the province's WMS stand-in at `base`."""
    return f"{base}/wms?SERVICE=WMS&REQUEST=GetCapabilities"


class SignedReceiver:
    """A partner's HTTP endpoint: records every POST (path, key, raw and
    JSON body, why its signature was refused or None) and counts
    deliveries per key; answers `status` with the JSON `answer`; GET /calls
    lists the calls. Stopped and started again on the same port."""

    def __init__(self, secret: bytes | None, window_s: float = 300, port: int | None = None,
                 log: Any = None) -> None:
        self.secret, self.window_s, self.log = secret, window_s, log
        self.port = port or free_port()  # not bound until start(): a receiver not started refuses
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[dict] = []
        self.per_key: Counter[str] = Counter()
        self.status = 200  # what a fresh message is answered with, and the JSON answer
        self.answer: dict = {}
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def _bind(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Idempotency-Key", "")
                refused = verify(receiver.secret, body, dict(self.headers), receiver.window_s) if receiver.secret else None
                with receiver._lock:
                    json_body = "json" in self.headers.get("Content-Type", "")
                    call = {"path": self.path, "key": key, "raw": body, "refused": refused,
                            "body": json.loads(body or b"null") if json_body else None}
                    receiver.calls.append(call)
                    status = 401 if refused else receiver.status
                    if status < 300:
                        receiver.per_key[key] += 1
                if receiver.log is not None:
                    print(json.dumps(_shown(call), ensure_ascii=False), file=receiver.log, flush=True)
                self._answer(status, receiver.answer)

            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/calls":
                    self._answer(404, {"error": "not found"})
                    return
                with receiver._lock:
                    self._answer(200, {"calls": [_shown(call) for call in receiver.calls]})

            def _answer(self, status: int, document: Any) -> None:
                answer = json.dumps(document, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        return self.server

    def start(self) -> SignedReceiver:
        server = self.server or self._bind()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_keys(self, keys: set[str], timeout: float = 600) -> None:  # a hang guard, not a time limit
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if keys <= set(self.per_key):
                    return
            time.sleep(0.2)
        raise AssertionError(f"not delivered: {sorted(keys - set(self.per_key))}; got {self.calls[-5:]}")


def _shown(call: dict) -> dict:
    """A call as logged and listed: the body's size instead of its bytes."""
    return {"path": call["path"], "key": call["key"], "refused": call["refused"], "size": len(call["raw"]),
            "body": call["body"]}


def cloud_app(home: Path) -> Any:
    """The cloud's tile server: a MapProxy whose tile sets are drawn by its
    debug source (each tile shows its own coordinates), served as XYZ, the
    base sets' tiles on their CLOUD_GROUND."""
    import io

    from mapproxy.wsgiapp import make_wsgi_app
    from PIL import Image
    from werkzeug.wrappers import Response

    config = {"services": {"tms": {"use_grid_names": True, "origin": "nw"}},
              "sources": {"generated": {"type": "debug"}},
              # transparent: the text on nothing (MapProxy's default is a white tile)
              "caches": {name: {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["generated"], "disable_storage": True,
                                "image": {"transparent": True}}
                         for name in CLOUD_TILE_SETS},
              "layers": [{"name": name, "title": name, "sources": [name]} for name in CLOUD_TILE_SETS],
              "globals": {"cache": {"base_dir": str(home / "cache"), "lock_dir": str(home / "locks")}}}
    home.mkdir(parents=True, exist_ok=True)
    (home / "mapproxy.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    tiles = make_wsgi_app(str(home / "mapproxy.yaml"))

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        response = Response.from_app(tiles, environ)
        parts = environ.get("PATH_INFO", "").split("/")  # /tiles/{set}/GLOBAL_WEBMERCATOR/z/x/y.png
        ground = CLOUD_GROUND.get(parts[2]) if len(parts) > 2 and parts[1] == "tiles" else None
        if ground is not None and response.status_code == 200:
            tile = Image.open(io.BytesIO(response.get_data())).convert("RGBA")
            image = Image.new("RGBA", tile.size, ground)
            image.alpha_composite(tile)
            out = io.BytesIO()
            image.save(out, "PNG")
            response.set_data(out.getvalue())
        return response(environ, start_response)

    return app


def province_maps_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The province's WMS 1.1.1 / 1.3.0 (WSGI): GetCapabilities naming the
    layers of PROVINCE_LINES; GetMap drawing them, filled with
    PROVINCE_FILL on transparency, as PNG."""
    from urllib.parse import parse_qsl

    args = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING", ""))}
    request = args.get("request", "").lower()
    if request == "getcapabilities":
        names = "".join(f"<Layer queryable=\"0\"><Name>{name}</Name><Title>{name}</Title></Layer>"
                        for name in PROVINCE_LINES)
        body = (f'<?xml version="1.0" encoding="UTF-8"?><WMT_MS_Capabilities version="1.1.1"><Service><Name>OGC:WMS'
                f'</Name><Title>省级平台（替身） province stand-in</Title></Service><Capability><Layer><Title>province'
                f'</Title><SRS>EPSG:3857</SRS><SRS>EPSG:4490</SRS><SRS>EPSG:4326</SRS>{names}</Layer></Capability>'
                f'</WMT_MS_Capabilities>').encode()
        start_response("200 OK", [("Content-Type", "application/vnd.ogc.wms_xml"), ("Content-Length", str(len(body)))])
        return [body]
    try:
        if request != "getmap":
            raise ValueError(f"unsupported request {request!r}")
        png = province_map(args)
    except (KeyError, ValueError) as exc:
        body = f"<ServiceExceptionReport><ServiceException>{exc}</ServiceException></ServiceExceptionReport>".encode()
        start_response("400 Bad Request", [("Content-Type", "application/vnd.ogc.se_xml")])
        return [body]
    start_response("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(png)))])
    return [png]


def province_map(args: dict[str, str]) -> bytes:
    """One GetMap of the province stand-in (`args`: its parameters, lower-case)."""
    import io

    from PIL import Image, ImageDraw
    from pyproj import Transformer

    crs = (args.get("srs") or args["crs"]).upper()
    if crs not in ("EPSG:3857", "EPSG:4490", "EPSG:4326"):
        raise ValueError(f"unsupported CRS {crs}")
    minx, miny, maxx, maxy = (float(v) for v in args["bbox"].split(","))
    if args.get("version") == "1.3.0" and crs != "EPSG:3857":  # latitude first
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    width, height = int(args["width"]), int(args["height"])
    to_crs = Transformer.from_crs("EPSG:4490", crs, always_xy=True)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for name in args["layers"].split(","):
        for ring in PROVINCE_LINES[name]:
            xs, ys = to_crs.transform([p[0] for p in ring], [p[1] for p in ring])
            draw.polygon([((x - minx) / (maxx - minx) * width, (maxy - y) / (maxy - miny) * height)
                          for x, y in zip(xs, ys, strict=True)], fill=PROVINCE_FILL)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _bound_server(kind: str, port: int, settings: Settings, log: Any) -> Any:
    """The stand-in's server, its port bound (serve_forever() serves it)."""
    from werkzeug.serving import make_server

    if kind == "cloud":
        return make_server("127.0.0.1", port, cloud_app(settings.var_dir / "standins" / "cloud"), threaded=True)
    if kind == "province-maps":
        return make_server("127.0.0.1", port, province_maps_app, threaded=True)
    config = IntegrationConfig.load(settings.config_dir)
    if kind == "egov":
        egov = config.partner("egov")
        receiver = SignedReceiver(secret(settings, egov), float(egov.get("replay_window_seconds", 300)), port, log)
    else:
        receiver = SignedReceiver(None, port=port, log=log)  # the province signs nothing of ours
        receiver.answer = {"status": "accepted"}
    receiver.calls = _Recent()
    return receiver._bind()


class _Recent(list):
    """The calls a long-running stand-in keeps: the last 1000."""

    def append(self, item: Any) -> None:
        super().append(item)
        del self[:-1000]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integration.standins", description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--var", type=Path, required=True)
    parser.add_argument("--pidfile", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = Settings.from_env({**os.environ, "ONEMAP_VAR": str(args.var)})
    args.log.parent.mkdir(parents=True, exist_ok=True)
    log = open(args.log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - the daemon's stdout for its life
    server = _bound_server(args.kind, args.port, settings, log)
    child = os.fork()
    if child:  # the port answers from now on: the caller goes on
        args.pidfile.parent.mkdir(parents=True, exist_ok=True)
        args.pidfile.write_text(str(child), encoding="ascii")
        os._exit(0)
    os.setsid()
    signal.signal(signal.SIGTERM, lambda *_: (args.pidfile.unlink(missing_ok=True), os._exit(0)))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    print(f"{args.kind} stand-in on 127.0.0.1:{args.port}", file=log, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
