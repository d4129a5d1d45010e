"""OGC API Records on the catalogue: a pygeoapi record provider reading the
pycsw repository (the same records CSW serves, parsed by pycsw).

Why not pygeoapi's CSW facade: `datetime` must select records whose
temporal extent (the validity of the plan versions a layer holds) meets the
instant or interval, and a layer still in force has an open end; pycsw 2.6's
filter encoding cannot test for a missing value inside a conjunction
(PropertyIsNull fails), and the facade compares the metadata date stamp
instead. Here the query is plain SQL on pycsw's columns, with the same
repository filter per audience as the pycsw configuration.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from onemap.core.db import open_pool
from onemap.ogc.providers import database_faults_as_503

ISO_SCHEMA = "http://www.isotc211.org/2005/gmd"
# OGC API property -> pycsw repository column
PROPERTIES = {"type": "type", "title": "title", "parentIdentifier": "parentidentifier", "topic": "topicategory",
              "updated": "date_modified"}
_pools: dict[str, ConnectionPool] = {}
_pools_lock = threading.Lock()


@dataclass(frozen=True)
class RecordQuery:
    """An OGC API Records query as plain data."""

    terms: tuple[str, ...] = ()  # q: any of them, anywhere in the record
    bbox: tuple[float, float, float, float] | None = None  # CRS84
    time_from: str | None = None  # 'YYYY-MM-DD', None: open
    time_to: str | None = None
    equals: tuple[tuple[str, str], ...] = ()  # (column, value)
    order: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    limit: int = 10
    offset: int = 0


def parse_datetime(value: str | None) -> tuple[str | None, str | None]:
    """OGC API `datetime` (RFC 3339 instant, or interval with `..` or empty
    open ends) as an inclusive range of dates; a record's temporal extent
    is compared at the day."""
    if not value:
        return None, None
    parts = value.split("/") if "/" in value else [value, value]
    if len(parts) != 2:
        raise ProviderInvalidQueryError(user_msg=f"Invalid datetime: {value}")
    days: list[str | None] = []
    for part in parts:
        if part in ("", ".."):
            days.append(None)
            continue
        try:
            days.append(datetime.fromisoformat(part.replace("Z", "+00:00")).date().isoformat()
                        if "T" in part else date.fromisoformat(part).isoformat())
        except ValueError:
            raise ProviderInvalidQueryError(user_msg=f"Invalid datetime: {value}") from None
    if days[0] and days[1] and days[0] > days[1]:
        raise ProviderInvalidQueryError(user_msg=f"Invalid datetime interval: {value} ends before it begins")
    return days[0], days[1]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def where_clause(query: RecordQuery, repo_filter: str | None) -> tuple[sql.Composable, list[Any]]:
    """The WHERE of a query on pycsw's `records` table."""
    parts: list[sql.Composable] = [sql.SQL("({})").format(sql.SQL(repo_filter))] if repo_filter else []
    params: list[Any] = []
    if query.terms:
        parts.append(sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("anytext ILIKE %s") for _ in query.terms)))
        params += [_like(t) for t in query.terms]
    if query.bbox:
        parts.append(sql.SQL("ST_Intersects(wkb_geometry, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"))
        params += list(query.bbox)
    if query.time_from or query.time_to:
        # an extent without end lasts until now (a plan still in force)
        parts.append(sql.SQL("time_begin ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}'"))
        if query.time_to:
            parts.append(sql.SQL("left(time_begin, 10) <= %s"))
            params.append(query.time_to)
        if query.time_from:
            parts.append(sql.SQL("(time_end IS NULL OR time_end = '' OR left(time_end, 10) >= %s)"))
            params.append(query.time_from)
    for column, value in query.equals:
        parts.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")), params


def _links(row: dict[str, Any], public_csw: str, items_url: str) -> list[dict[str, str]]:
    params = {"service": "CSW", "version": "2.0.2", "request": "GetRecordById", "id": row["identifier"],
              "elementsetname": "full", "outputschema": ISO_SCHEMA}
    links = [{"rel": "alternate", "type": "application/xml", "title": "ISO 19139 元数据 / ISO 19139 metadata",
              "href": f"{public_csw}?{urlencode(params)}"}]
    # pycsw's links column: name,description,protocol,url joined by ^
    for link in filter(None, (row["links"] or "").split("^")):
        name, description, protocol, url = (link.split(",", 3) + ["", "", "", ""])[:4]
        links.append({"rel": "service" if protocol.startswith("OGC:") else "related", "href": url,
                      "title": f"{protocol} {name}".strip(), "description": description})
    if row["parentidentifier"]:
        links.append({"rel": "up", "type": "application/geo+json", "title": "上级目录 / parent class",
                      "href": f"{items_url}/{row['parentidentifier']}"})
    return links


def record_feature(row: dict[str, Any], public_csw: str, items_url: str) -> dict[str, Any]:
    """A repository row as an OGC API Records GeoJSON record."""
    interval = [row["time_begin"], row["time_end"] or ".."] if row["time_begin"] else None
    properties = {
        "type": row["type"],
        "title": row["title"],
        "title_en": row["title_alternate"],
        "description": row["abstract"],
        "keywords": [k for k in (row["keywords"] or "").split(",") if k],
        "parentIdentifier": row["parentidentifier"],
        "topic": row["topicategory"],
        "updated": row["date_modified"],
    }
    return {
        "id": row["identifier"],
        "type": "Feature",
        "geometry": json.loads(row["geometry"]) if row["geometry"] else None,
        "time": {"interval": interval} if interval else None,
        "properties": {k: v for k, v in properties.items() if v not in (None, "", [])},
        "links": _links(row, public_csw, items_url),
    }


_COLUMNS = sql.SQL("identifier, type, title, title_alternate, abstract, keywords, parentidentifier, topicategory, "
                   "date_modified, time_begin, time_end, links, ST_AsGeoJSON(wkb_geometry, 6) AS geometry")


class OneMapRecordProvider(BaseProvider):
    """pygeoapi record provider: `data` is the database connection with the
    repository `schema`, `filter` the audience's repository filter (as in its
    pycsw configuration), `public_url` the gateway's /csw, `items_url` this
    collection's items."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        data = dict(self.data)
        self.table = sql.Identifier(data.pop("schema"), "records")
        self.repo_filter = provider_def.get("filter")
        self.public_url = provider_def["public_url"]
        self.items_url = provider_def["items_url"]
        self.conninfo = make_conninfo(**{k: str(v) for k, v in data.items() if k != "search_path"})
        self._fields = {name: {"type": "string"} for name in PROPERTIES}

    @property
    def pool(self) -> ConnectionPool:
        """One pool a database per process (pygeoapi makes a provider per
        request), opened at the first query, not when the OpenAPI document
        is generated."""
        with _pools_lock:
            if self.conninfo not in _pools:
                _pools[self.conninfo] = open_pool(self.conninfo, "onemap-records", max_size=4)
            return _pools[self.conninfo]

    def get_fields(self) -> dict[str, Any]:
        return self._fields

    @database_faults_as_503
    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results", bbox: list | None = None,
              datetime_: str | None = None, properties: list | None = None, sortby: list | None = None,
              q: str | None = None, **kwargs: Any) -> dict[str, Any]:
        time_from, time_to = parse_datetime(datetime_)
        for name, _ in properties or []:
            if name not in PROPERTIES:
                raise ProviderInvalidQueryError(user_msg=f"Invalid property: {name}")
        query = RecordQuery(
            terms=tuple(t.strip() for t in (q or "").split(",") if t.strip()),
            bbox=tuple(bbox[:4]) if bbox else None,
            time_from=time_from, time_to=time_to,
            equals=tuple((PROPERTIES[name], value) for name, value in properties or []),
            order=tuple((PROPERTIES.get(s["property"], "identifier"), s["order"] == "-") for s in sortby or []),
            limit=limit, offset=offset)
        where, params = where_clause(query, self.repo_filter)
        order = sql.SQL(", ").join(
            [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL("DESC" if d else "ASC")) for c, d in query.order]
            + [sql.SQL("identifier")])
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            matched = cur.execute(sql.SQL("SELECT count(*) AS n FROM {} WHERE {}").format(self.table, where),
                                  params).fetchone()["n"]
            rows = [] if resulttype == "hits" else cur.execute(
                sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
                    _COLUMNS, self.table, where, order), [*params, limit, offset]).fetchall()
        return {"type": "FeatureCollection", "features": [record_feature(r, self.public_url, self.items_url) for r in rows],
                "numberMatched": matched, "numberReturned": len(rows)}

    @database_faults_as_503
    def get(self, identifier: str, **kwargs: Any) -> dict[str, Any]:
        where, params = where_clause(RecordQuery(), self.repo_filter)
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(sql.SQL("SELECT {} FROM {} WHERE identifier = %s AND {}").format(
                _COLUMNS, self.table, where), [identifier, *params]).fetchone()
        if row is None:
            raise ProviderItemNotFoundError(f"record {identifier} not found")
        return record_feature(row, self.public_url, self.items_url)
