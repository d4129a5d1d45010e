"""公示 Plans under public notice: a publication is current while it is
published and today is within its start and end dates inclusive; the list is
a query on today's date, so a publication leaves it by itself. Staff write a
publication as a draft, edit it, publish it and withdraw it (公开公示管理)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import shapely.errors
import shapely.geometry
from psycopg.rows import dict_row

from onemap.core.errors import invalid
from onemap.core.registry import Layer
from processes.participation import text

STATES = ("draft", "published", "withdrawn")  # 草稿, 已发布, 已撤回


@dataclass(frozen=True)
class Publication:
    gsbh: str  # 公示编号
    gsmc: str  # 名称
    gsmc_en: str
    ksrq: dt.date  # 开始日期
    jzrq: dt.date  # 截止日期
    geometry: dict[str, Any]  # GeoJSON (Multi)Polygon, CGCS2000 degrees
    gsnr: str = ""
    gsnr_en: str = ""
    documents: tuple[dict[str, str], ...] = ()  # {title_zh, title_en, url}: http(s), or relative to the stack
    layers: tuple[str, ...] = field(default=())  # the plan's public layers


_COLUMNS = """p.id, p.gsbh, p.gsmc, p.gsmc_en, p.gsnr, p.gsnr_en, p.ksrq::text AS ksrq, p.jzrq::text AS jzrq,
    p.documents, p.layers, ST_AsGeoJSON(p.geom, 6)::json AS geometry,
    ARRAY[ST_XMin(p.geom), ST_YMin(p.geom), ST_XMax(p.geom), ST_YMax(p.geom)] AS bbox"""
_CURRENT = "p.zt = 'published' AND current_date BETWEEN p.ksrq AND p.jzrq"
# pages link documents: never a javascript: or data: address
_DOCUMENT_URL = re.compile(r"^(https?://|[A-Za-z0-9_.~-]+(/|$))[^\s]*$")


def publish(conn: psycopg.Connection, publication: Publication, layers: Iterable[Layer],
            state: str = "published") -> int:
    """Store (or replace, by gsbh) a publication in `state`; its layers must
    be public layers of the registry — a publication never shows internal data."""
    public = {layer.id for layer in layers if layer.is_public}
    internal = sorted(set(publication.layers) - public)
    if internal:
        raise invalid("layers", f"公示只能包含公开图层，以下图层不可公开：{'、'.join(internal)}",
                      f"A publication shows public layers only; not public: {', '.join(internal)}")
    for n, document in enumerate(publication.documents, 1):
        url = document.get("url", "")
        if not isinstance(url, str) or not _DOCUMENT_URL.match(url):
            raise invalid(f"documents[{n}].url", "材料地址应为 http(s) 地址或本系统内的相对路径",
                          "A document's address is an http(s) URL or a path relative to this service")
    if publication.jzrq < publication.ksrq:
        raise invalid("jzrq", "截止日期早于开始日期", "The end date is before the start date")
    (pk,) = conn.execute(
        """INSERT INTO supervision.publication (gsbh, gsmc, gsmc_en, gsnr, gsnr_en, ksrq, jzrq, documents, layers, geom, zt)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490)), %s)
           ON CONFLICT (gsbh) DO UPDATE SET gsmc = EXCLUDED.gsmc, gsmc_en = EXCLUDED.gsmc_en, gsnr = EXCLUDED.gsnr,
               gsnr_en = EXCLUDED.gsnr_en, ksrq = EXCLUDED.ksrq, jzrq = EXCLUDED.jzrq,
               documents = EXCLUDED.documents, layers = EXCLUDED.layers, geom = EXCLUDED.geom, zt = EXCLUDED.zt
           RETURNING id""",
        (publication.gsbh, publication.gsmc, publication.gsmc_en, publication.gsnr, publication.gsnr_en,
         publication.ksrq, publication.jzrq, json.dumps(list(publication.documents), ensure_ascii=False),
         list(publication.layers), json.dumps(publication.geometry), state)).fetchone()
    return pk


def current(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The publications under notice today, the newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM supervision.publication p WHERE {_CURRENT} "
                           "ORDER BY p.ksrq DESC, p.gsbh").fetchall()


def find_current(conn: psycopg.Connection, gsbh: str) -> dict[str, Any]:
    """One publication under notice today, or 404 (also once it has ended)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM supervision.publication p WHERE p.gsbh = %s AND {_CURRENT}",
                          (gsbh,)).fetchone()
    if row is None:
        raise invalid("gsbh", f"公示 {gsbh} 不存在或已结束", f"No publication {gsbh} under notice", status=404)
    return row


# --- staff: 公开公示管理 --------------------------------------------------------
def for_staff(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every publication in any state (drafts, ended, withdrawn), the newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS}, p.zt FROM supervision.publication p "
                           "ORDER BY p.ksrq DESC, p.gsbh").fetchall()


def from_json(data: dict[str, Any]) -> Publication:
    """A publication from the staff page's JSON: {gsbh, gsmc, gsmc_en, gsnr?,
    gsnr_en?, ksrq, jzrq (YYYY-MM-DD), geometry (GeoJSON polygon, CGCS2000
    degrees), layers?, documents?}; each field checked and named when wrong."""
    fields = {name: text.plain_text(data, name, zh, en, length, required)
              for name, zh, en, length, required in (
                  ("gsbh", "公示编号", "publication number", 40, True), ("gsmc", "公示名称", "title", 200, True),
                  ("gsmc_en", "英文名称", "English title", 200, True), ("gsnr", "公示说明", "description", 4000, False),
                  ("gsnr_en", "英文说明", "English description", 4000, False))}
    dates = {}
    for name, zh in (("ksrq", "开始日期"), ("jzrq", "截止日期")):
        try:
            dates[name] = dt.date.fromisoformat(str(data.get(name)))
        except ValueError:
            raise invalid(name, f"{zh}应为 YYYY-MM-DD 格式的日期", f"{name} must be a date as YYYY-MM-DD") from None
    layers, documents = data.get("layers") or [], data.get("documents") or []
    if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
        raise invalid("layers", "图层应为图层编号列表", "layers must be a list of layer ids")
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise invalid("documents", "公示材料应为 {title_zh, title_en, url} 列表",
                      "documents must be a list of {title_zh, title_en, url}")
    return Publication(**{k: v or "" for k, v in fields.items()}, **dates, geometry=_area(data.get("geometry")),
                       layers=tuple(layers),
                       documents=tuple({k: str(d.get(k, "")) for k in ("title_zh", "title_en", "url")}
                                       for d in documents))


def _area(geometry: Any) -> dict[str, Any]:
    try:
        area = shapely.geometry.shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
        area = None
    if area is None or area.geom_type not in ("Polygon", "MultiPolygon") or area.is_empty or not area.is_valid:
        raise invalid("geometry", "公示范围应为有效的面（GeoJSON Polygon 或 MultiPolygon）",
                      "The publication's area must be a valid GeoJSON Polygon or MultiPolygon")
    return geometry


def create(conn: psycopg.Connection, publication: Publication, layers: Iterable[Layer]) -> dict[str, Any]:
    """A new publication, as a draft (the public sees it once published)."""
    if _state(conn, publication.gsbh) is not None:
        raise invalid("gsbh", f"公示编号 {publication.gsbh} 已存在", f"Publication {publication.gsbh} exists", status=409)
    publish(conn, publication, layers, state="draft")
    return {"gsbh": publication.gsbh, "zt": "draft"}


def edit(conn: psycopg.Connection, publication: Publication, layers: Iterable[Layer]) -> dict[str, Any]:
    """A publication's content replaced; its state stays."""
    state = _state(conn, publication.gsbh, required=True)
    publish(conn, publication, layers, state=state)
    return {"gsbh": publication.gsbh, "zt": state}


def set_state(conn: psycopg.Connection, gsbh: str, state: str) -> dict[str, Any]:
    """Publish (发布) or withdraw (撤回) a publication; a withdrawn one leaves
    the portal at once, a published one shows there within its dates."""
    if state not in STATES:
        raise invalid("zt", f"状态应为 {'、'.join(STATES)} 之一", f"The state must be one of {', '.join(STATES)}")
    before = _state(conn, gsbh, required=True)
    conn.execute("UPDATE supervision.publication SET zt = %s WHERE gsbh = %s", (state, gsbh))
    return {"gsbh": gsbh, "zt": state, "before": before}


def _state(conn: psycopg.Connection, gsbh: str, required: bool = False) -> str | None:
    row = conn.execute("SELECT zt FROM supervision.publication WHERE gsbh = %s FOR UPDATE", (gsbh,)).fetchone()
    if row is None and required:
        raise invalid("gsbh", f"公示 {gsbh} 不存在", f"No publication {gsbh}", status=404)
    return row[0] if row else None
