"""Database access shared by the CLI, the gateway and the processes."""

from __future__ import annotations

import atexit
import math
import time
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from onemap.core.registry import Layer

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def connection_parameters(database_url: str) -> dict[str, Any]:
    """The connection parameters of a URL or key=value string, as libpq reads
    them (psycopg's parser: percent-decoding, query options, defaults)."""
    params: dict[str, Any] = conninfo_to_dict(database_url)
    params.setdefault("host", "127.0.0.1")
    params["port"] = int(params.get("port") or 5432)
    return params


def libpq_dsn(database_url: str, with_password: bool = True, **extra: str) -> str:
    """A libpq key='value' string (what MapServer's CONNECTION and GDAL's
    PG: driver take), with `extra` parameters such as active_schema; without
    the password for a command line (pass it as PGPASSWORD instead)."""
    def literal(value: object) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    params = {**connection_parameters(database_url), **extra}
    if not with_password:
        params.pop("password", None)
    return " ".join(f"{key}={literal(value)}" for key, value in params.items())


def connect(database_url: str, **kwargs: Any) -> psycopg.Connection:
    return psycopg.connect(database_url, application_name="onemap", **kwargs)


def open_pool(database_url: str, name: str, max_size: int = 8) -> ConnectionPool:
    """A pool of autocommit connections. A connection idle for more than
    FRESH_S is checked when it is taken, so a database restart or failover
    costs the seconds it lasts, not one failed request per stale connection;
    closed at exit (else its threads hold a stopping worker for seconds)."""
    pool = ConnectionPool(database_url, min_size=1, max_size=max_size, open=True,
                          check=_check_unless_fresh, reset=_mark_returned,
                          kwargs={"application_name": name, "autocommit": True})
    atexit.register(pool.close)
    return pool


# Checking costs a round trip on every request (a fifth of a cached tile's
# time under load, py-spy): a connection given back this recently is taken
# as it is.
FRESH_S = 1.0


def _mark_returned(conn: psycopg.Connection) -> None:
    conn._onemap_returned_at = time.monotonic()  # type: ignore[attr-defined]


def _check_unless_fresh(conn: psycopg.Connection) -> None:
    if time.monotonic() - getattr(conn, "_onemap_returned_at", -math.inf) > FRESH_S:
        ConnectionPool.check_connection(conn)


def core_schema() -> str:
    """The DDL of the shared data model: schemas, layer tables, ops."""
    return resources.files("onemap.core").joinpath("schema.sql").read_text(encoding="utf-8")


def apply_schema(database_url: str, ddl: list[str]) -> None:
    """Create schemas, tables and indexes (idempotent DDL), in one transaction."""
    with connect(database_url) as conn:
        for text in ddl:
            conn.execute(text)


_WORLD = [-180, -90, 180, 90]


_MIN_SPAN = 0.001  # degrees, about 100 m


def bbox_with_area(bbox: list[float]) -> list[float]:
    """A layer of one point (one approved comment) has a bbox of no width:
    MapServer refuses such an EXTENT and with it the whole map file. Widen
    each side that has no span to _MIN_SPAN around its value."""
    for lo, hi in ((0, 2), (1, 3)):
        if bbox[hi] - bbox[lo] < _MIN_SPAN:
            middle = (bbox[lo] + bbox[hi]) / 2
            bbox[lo], bbox[hi] = round(middle - _MIN_SPAN / 2, 6), round(middle + _MIN_SPAN / 2, 6)
    return bbox


def layer_extent(conn: psycopg.Connection, layer: Layer) -> dict[str, Any]:
    """The OGC extent of a layer computed from its data: bbox in CRS84 and,
    for versioned layers, the validity interval of its versions."""
    table = sql.Identifier(layer.schema, layer.table_name)
    row = conn.execute(
        sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM {}) s").format(table)).fetchone()
    bbox = bbox_with_area([round(v, 6) for v in row]) if row and row[0] is not None else list(_WORLD)
    extent: dict[str, Any] = {"spatial": {"bbox": bbox, "crs": CRS84}}
    if layer.timed:
        begin, end, open_ended = conn.execute(
            sql.SQL("SELECT min(valid_from), max(valid_to), bool_or(valid_to IS NULL) FROM {}").format(table)
        ).fetchone()
        if begin is not None:
            # datetime objects: pygeoapi compares them with the request's datetime
            extent["temporal"] = {"begin": begin, "end": None if open_ended else end}
    return extent


def layer_extents(database_url: str, layers: list[Layer]) -> dict[str, dict[str, Any]]:
    """The extents of the layers; an empty layer (no check recorded yet, no
    comment approved) gets the bbox of the others together rather than the
    whole world, so a client that zooms to it (or to all) shows the city."""
    with connect(database_url) as conn:
        extents = {layer.id: layer_extent(conn, layer) for layer in layers}
    boxes = [e["spatial"]["bbox"] for e in extents.values() if e["spatial"]["bbox"] != _WORLD]
    if boxes:
        data = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
        for extent in extents.values():
            if extent["spatial"]["bbox"] == _WORLD:
                extent["spatial"]["bbox"] = data
    return extents


def table_counts(database_url: str, layers: list[Layer]) -> dict[str, int]:
    with connect(database_url) as conn:
        return {
            layer.id: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(layer.schema, layer.table_name))
            ).fetchone()[0]
            for layer in layers
        }
