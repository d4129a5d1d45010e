"""公示 Plans under public notice: a publication is current from its start
date to its end date inclusive; the list is a query on today's date, so a
publication leaves it by itself."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from onemap.core.errors import invalid
from onemap.core.registry import Layer


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
_CURRENT = "current_date BETWEEN p.ksrq AND p.jzrq"
# pages link documents: never a javascript: or data: address
_DOCUMENT_URL = re.compile(r"^(https?://|[A-Za-z0-9_.~-]+(/|$))[^\s]*$")


def publish(conn: psycopg.Connection, publication: Publication, layers: Iterable[Layer]) -> int:
    """Store (or replace, by gsbh) a publication; its layers must be public
    layers of the registry — a publication never shows internal data."""
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
        """INSERT INTO supervision.publication (gsbh, gsmc, gsmc_en, gsnr, gsnr_en, ksrq, jzrq, documents, layers, geom)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490)))
           ON CONFLICT (gsbh) DO UPDATE SET gsmc = EXCLUDED.gsmc, gsmc_en = EXCLUDED.gsmc_en, gsnr = EXCLUDED.gsnr,
               gsnr_en = EXCLUDED.gsnr_en, ksrq = EXCLUDED.ksrq, jzrq = EXCLUDED.jzrq,
               documents = EXCLUDED.documents, layers = EXCLUDED.layers, geom = EXCLUDED.geom
           RETURNING id""",
        (publication.gsbh, publication.gsmc, publication.gsmc_en, publication.gsnr, publication.gsnr_en,
         publication.ksrq, publication.jzrq, json.dumps(list(publication.documents), ensure_ascii=False),
         list(publication.layers), json.dumps(publication.geometry))).fetchone()
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
