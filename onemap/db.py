"""Database access shared by the CLI, the gateway and the processes."""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from onemap.registry import Layer

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def connect(database_url: str, **kwargs: Any) -> psycopg.Connection:
    return psycopg.connect(database_url, application_name="onemap", **kwargs)


def apply_schema(database_url: str) -> None:
    """Create the schemas, tables and indexes (idempotent)."""
    ddl = resources.files("onemap").joinpath("schema.sql").read_text(encoding="utf-8")
    with connect(database_url) as conn:
        conn.execute(ddl)


def layer_extent(conn: psycopg.Connection, layer: Layer) -> dict[str, Any]:
    """The OGC extent of a layer computed from its data: bbox in CRS84 and,
    for versioned layers, the validity interval of its versions."""
    table = sql.Identifier(layer.schema, layer.table_name)
    row = conn.execute(
        sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM {}) s").format(table)).fetchone()
    bbox = [round(v, 6) for v in row] if row and row[0] is not None else [-180, -90, 180, 90]
    extent: dict[str, Any] = {"spatial": {"bbox": bbox, "crs": CRS84}}
    if layer.versioned:
        begin, end, open_ended = conn.execute(
            sql.SQL("SELECT min(valid_from), max(valid_to), bool_or(valid_to IS NULL) FROM {}").format(table)
        ).fetchone()
        if begin is not None:
            # datetime objects: pygeoapi compares them with the request's datetime
            extent["temporal"] = {"begin": begin, "end": None if open_ended else end}
    return extent


def layer_extents(database_url: str, layers: list[Layer]) -> dict[str, dict[str, Any]]:
    with connect(database_url) as conn:
        return {layer.id: layer_extent(conn, layer) for layer in layers}


def table_counts(database_url: str, layers: list[Layer]) -> dict[str, int]:
    with connect(database_url) as conn:
        return {
            layer.id: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(layer.schema, layer.table_name))
            ).fetchone()[0]
            for layer in layers
        }
