"""The map services at /mapproxy: generating their configuration, loading the
two MapProxy applications (public, internal), and reading which layers a
request names, so the gateway can check them before MapProxy answers."""

from __future__ import annotations

import math
import os
import re
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from psycopg_pool import ConnectionPool

from onemap.core.errors import Problem, chinese_for
from onemap.core.inforce import in_force_state_sql
from onemap.core.registry import Layer
from onemap.core.settings import Settings, load_yaml
from onemap.maps.config import (
    GRIDS,
    cache_dir,
    config_path,
    group_sensitivity,
    load_tree,
    parts_sensitivity_path,
    plan_state_file,
    write_mapproxy_configs,
)
from onemap.maps.mapfile import use_mapserver_config, write_mapserver_files
from onemap.maps.tilecache import TileCache
from onemap.ogc.config import AUDIENCES
from onemap.styles.model import Style, load_style

# KVP parameters that name layers (WMS GetMap/GetFeatureInfo/GetLegendGraphic, WMTS GetTile).
_LAYER_PARAMS = ("layers", "layer", "query_layers")
# REST paths that name a layer: /wmts/{layer}/..., /tms/1.0.0/{layer}/..., /tiles/1.0.0/{layer}/...
_REST_LAYER = re.compile(r"^/(?:wmts|tms/1\.0\.0|tiles/1\.0\.0|tiles)/([^/]+)")


def styles_of(layers: list[Layer]) -> dict[str, Style]:
    return {layer.style: load_style(layer.style) for layer in layers}


def write_map_configs(layers: list[Layer], settings: Settings, database_url: str,
                      extents: dict[str, dict[str, Any]]) -> list[Path]:
    """Mapfile, MapServer configuration and both MapProxy configurations.
    A changed mapfile (styles, layers, data extents) empties the tile cache:
    its tiles show what the map was."""
    mapfile = settings.mapserver_files.mapfile
    before = mapfile.read_text(encoding="utf-8") if mapfile.exists() else None
    files = write_mapserver_files(layers, styles_of(layers), database_url, extents, settings)
    if before is not None and before != files.mapfile.read_text(encoding="utf-8"):
        shutil.rmtree(cache_dir(settings), ignore_errors=True)
    return [files.mapfile, *write_mapproxy_configs(layers, load_tree(layers), settings, files, extents)]


def requested_names(path: str, args: Mapping[str, str], known: set[str]) -> list[str]:
    """The known layer or group names a MapProxy request (path under
    /mapproxy, query arguments) names. A REST layer segment may carry the
    grid too (`DLTB_WebMercatorQuad`)."""
    values: list[str] = []
    lowered = {key.lower(): value for key, value in args.items()}
    for param in _LAYER_PARAMS:
        values += [v.strip() for v in lowered.get(param, "").split(",") if v.strip()]
    match = _REST_LAYER.match(path)
    if match:
        values.append(match.group(1))
    names = []
    for value in values:
        if value in known:
            names.append(value)
            continue
        for grid in GRIDS:
            if value.endswith("_" + grid) and value[: -len(grid) - 1] in known:
                names.append(value[: -len(grid) - 1])
    return names


class PlanStateWatch:
    """Keeps the cached tiles of versioned layers true to the plan in force.

    MapProxy draws again a tile older than the state file; this rewrites the
    file (a new mtime) when the set of plan versions in force changes — at a
    publish, and on the day a future-dated version takes effect, with no
    process of ours running then. Asked before every map request, it looks
    at the database at most every CHECK_EVERY_S per worker; the file holds
    the state it stands for, so other workers seeing the same change do not
    make the tiles drawn since stale again."""

    CHECK_EVERY_S = 2.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checked_at = -math.inf

    def check(self, pool: ConnectionPool) -> None:
        now = time.monotonic()
        if now - self.checked_at < self.CHECK_EVERY_S and self.path.exists():
            return
        self.checked_at = now
        with pool.connection() as conn:
            state = conn.execute(in_force_state_sql()).fetchone()[0]
        try:
            if self.path.read_text(encoding="utf-8") == state:
                return
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        staged.write_text(state, encoding="utf-8")
        os.replace(staged, self.path)


def map_sensitivity(layers: list[Layer]) -> dict[str, str]:
    """The sensitivity of every map name of the registry: each layer and each group."""
    return {layer.id: layer.sensitivity for layer in layers} | group_sensitivity(load_tree(layers), layers)


def parts_sensitivity(settings: Settings) -> dict[str, str]:
    """The sensitivity of each layer the map parts add (the partners'
    basemap and layers), as the configuration generation left it."""
    path = parts_sensitivity_path(settings)
    return (load_yaml(path) or {}) if path.exists() else {}


@dataclass
class MapServices:
    """The loaded MapProxy applications and the sensitivity of every map name."""

    apps: dict[str, Any]
    sensitivity: dict[str, str]
    plan_state: PlanStateWatch
    tiles: TileCache

    @classmethod
    def load(cls, settings: Settings, layers: list[Layer]) -> MapServices:
        from mapproxy.wsgiapp import make_wsgi_app

        use_mapserver_config(settings)
        apps = {audience: make_wsgi_app(str(config_path(settings, audience))) for audience in AUDIENCES}
        tree = load_tree(layers)
        return cls(apps, map_sensitivity(layers) | parts_sensitivity(settings), PlanStateWatch(plan_state_file(settings)),
                   TileCache.of(settings, layers, tree))

    def names(self, path: str, args: Mapping[str, str]) -> list[str]:
        return requested_names(path, args, set(self.sensitivity))


def check_parameters(args: Mapping[str, str]) -> Problem | None:
    """BBOX, WIDTH and HEIGHT checked before MapProxy (which answers
    malformed ones with an internal error)."""
    lowered = {key.lower(): value for key, value in args.items()}
    if "bbox" in lowered:
        try:
            box = [float(v) for v in lowered["bbox"].split(",")]
        except ValueError:
            box = []
        if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[0] >= box[2] or box[1] >= box[3]:
            return Problem(400, "InvalidParameterValue",
                           "BBOX 参数无效：应为 minx,miny,maxx,maxy 四个数字，且最小值小于最大值",
                           "Invalid BBOX: it must be four numbers minx,miny,maxx,maxy with min < max",
                           field="BBOX")
    for name in ("width", "height"):
        if name in lowered and not (lowered[name].isdigit() and int(lowered[name]) > 0):
            return Problem(400, "InvalidParameterValue", f"{name.upper()} 参数应为正整数",
                           f"{name.upper()} must be a positive integer", field=name.upper())
    return None


def bilingual_exception(status: int, content_type: str, body: bytes) -> tuple[int, bytes] | None:
    """An OGC exception report of MapProxy with its message in Chinese and
    English, and a 4xx status for what is the client's fault (MapProxy's WMS
    answers those with 500). None when `body` is no exception report."""
    if content_type.startswith("text/plain") and b"invalid request (" in body:
        # a path no MapProxy service knows: MapProxy calls it an internal error
        return 404, "请求路径无效 / ".encode() + body.replace(b"internal error: ", b"")
    if "xml" not in content_type or b"Exception" not in body[:2000]:
        return None
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return None
    texts = [el for el in root.iter() if isinstance(el.tag, str)
             and etree.QName(el).localname in ("ServiceException", "ExceptionText") and el.text]
    if not texts:
        return None
    code = next((el.get("code") or el.getparent().get("exceptionCode") for el in texts
                 if el.get("code") or el.getparent().get("exceptionCode")), None)
    client_fault = code not in (None, "NoApplicableCode") or any(
        _CLIENT_FAULT.match(el.text.strip()) for el in texts)
    source_down = any(_SOURCE_DOWN.search(el.text) for el in texts)
    status = 400 if client_fault and status >= 500 else 502 if source_down else status
    for el in texts:
        english = el.text.strip()
        zh = ("图层不存在" if english.startswith("unknown layer") else
              "缺少请求参数" if english.startswith("missing parameter") else
              "该图层的来源地图服务（合作方，如省级平台）无响应，其他图层不受影响" if source_down else
              _MAP_MESSAGES_ZH.get(code or "") or chinese_for(status, english)[0])
        el.text = f"{zh} / {english}"
    return status, etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# MapProxy messages without an exception code that are the client's fault.
_CLIENT_FAULT = re.compile(r"^(missing parameter|invalid|unknown|unsupported|not supported)", re.IGNORECASE)
# MapProxy's words (its HTTP client's) for an HTTP source that failed: only
# the partners' WMS and tiles are HTTP sources (ours are MapServer), so it
# is a partner's outage, a 502, not an error of ours.
_SOURCE_DOWN = re.compile(r"No response from URL|HTTP Error|Internal HTTP error|response is not an image")
# MapProxy's exception codes and what they tell the user in Chinese.
_MAP_MESSAGES_ZH = {
    "LayerNotDefined": "图层不存在",
    "InvalidSRS": "不支持的坐标参考系",
    "InvalidCRS": "不支持的坐标参考系",
    "InvalidFormat": "不支持的图片格式",
    "InvalidParameterValue": "请求参数无效",
    "MissingParameterValue": "缺少请求参数",
    "TileOutOfRange": "瓦片行列号超出范围",
    "OperationNotSupported": "不支持的操作",
    "InvalidPoint": "查询点不在图片范围内",
    "LayerNotQueryable": "该图层不支持要素查询",
    "StyleNotDefined": "样式不存在",
}
