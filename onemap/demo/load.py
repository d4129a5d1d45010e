"""Load the demo city into PostGIS.

One transaction: apply the schema, empty the demo tables, COPY every layer in
(the big ones streamed township by township while they are generated), put
back the indexes, commit; then ANALYZE.  Loading twice gives the same data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import psycopg
import shapely
from psycopg import sql

from onemap.core.db import core_schema
from onemap.demo import amendment, detailed, participation, roads, special, supervision
from onemap.demo.generate import COLUMNS, DemoCity, Table, generate_city

SRID = 4490

# Every table the demo city fills; emptied together, as the plan tables
# refer to plan.plan_version.
DEMO_TABLES = (*COLUMNS, *detailed.TABLES, *special.TABLES, *roads.TABLES)

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def load_city(database_url: str, scale: str = "small", seed: int = 1,
              progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Generate the demo city and replace the demo tables' contents with it.

    Returns the number of rows written per table ("schema.table")."""
    say = progress or (lambda _message: None)
    say(f"generating the demo city: scale {scale}, seed {seed}")
    city = generate_city(scale, seed)
    schema = core_schema()
    counts = dict.fromkeys(DEMO_TABLES, 0)
    with psycopg.connect(database_url, application_name="onemap-demo") as conn:
        with conn.transaction():
            conn.execute(schema)
            # Indexes are dropped while loading and built again after: one
            # bulk build is much faster than a million GiST insertions.
            indexes = _secondary_indexes(conn)
            for name, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(*name.split("."))))
            conn.execute(sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in DEMO_TABLES)))
            for table in city.small_tables():
                counts[table.name] = _copy(conn, table.name, [_chunk(table)])
                say(f"{table.name}: {counts[table.name]} rows")
            counts.update(_copy_big_layers(conn, city, say))
            say(f"building {len(indexes)} indexes")
            conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for _, definition in indexes:
                conn.execute(definition)
            counts.update(roads.load(conn))
            counts.update(detailed.load(conn, seed))
            counts.update(supervision.load(conn, seed))
            counts.update(participation.load(conn))
            counts.update(special.load(conn))
            counts.update(amendment.load(conn))
        conn.autocommit = True
        say("analyze")
        for name in DEMO_TABLES:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*name.split("."))))
    return counts


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(qualified name, CREATE statement) of the demo tables' indexes that
    no constraint owns (primary keys and unique constraints stay)."""
    return conn.execute(
        """
        SELECT n.nspname || '.' || c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY 1
        """, [list(DEMO_TABLES)]).fetchall()


def _copy_big_layers(conn: psycopg.Connection, city: DemoCity,
                     say: Callable[[str], None]) -> dict[str, int]:
    """COPY DLTB, then GHYDYH, township by township as they are generated.
    YJJBNT comes out with GHYDYH but one COPY runs at a time on a connection,
    so its rows wait as COPY text (a small fraction of the plan's)."""
    total = len(city.layout.townships)

    def chunks(table: str, batches: Iterator[Table]) -> Iterator[tuple[int, bytes]]:
        for k, batch in enumerate(batches, start=1):
            if k % 10 == 0 or k == total:
                say(f"{table}: {k}/{total} townships")
            yield _chunk(batch)

    counts = {"base.dltb": _copy(conn, "base.dltb", chunks("base.dltb", city.dltb()))}
    farmland: list[tuple[int, bytes]] = []

    def plans() -> Iterator[Table]:
        for plan, farm in city.ghydyh():
            farmland.append(_chunk(farm))
            yield plan

    counts["plan.ghydyh"] = _copy(conn, "plan.ghydyh", chunks("plan.ghydyh", plans()))
    counts["plan.yjjbnt"] = _copy(conn, "plan.yjjbnt", farmland)
    say(f"plan.yjjbnt: {counts['plan.yjjbnt']} rows")
    return counts


def _copy(conn: psycopg.Connection, table: str, chunks: Iterable[tuple[int, bytes]]) -> int:
    """COPY chunks of (row count, COPY text) into a table; the number of rows."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table])))
    rows = 0
    with conn.cursor().copy(statement) as copy:
        for count, text in chunks:
            copy.write(text)
            rows += count
    return rows


def _chunk(table: Table) -> tuple[int, bytes]:
    """The rows of a table in COPY text format, and how many."""
    if len(table) == 0:
        return 0, b""
    columns = [_column_text(values) for values in table.columns.values()]
    text = "\n".join("\t".join(row) for row in zip(*columns, strict=True)) + "\n"
    return len(table), text.encode()


def _column_text(values: np.ndarray) -> list[str]:
    """One column's values as COPY text fields."""
    if values.dtype.kind in "iu":
        return [str(v) for v in values.tolist()]
    if values.dtype.kind == "f":
        return [repr(v) for v in values.tolist()]
    items = values.tolist()
    if all(type(v) is str for v in items):
        # Fast path: plain strings, escaped only if one needs it.
        joined = "".join(items)
        if not any(c in joined for c in "\\\t\n\r"):
            return items
        return [v.translate(_ESCAPES) for v in items]
    present = [v for v in items if v is not None]
    if present and isinstance(present[0], shapely.Geometry):
        return shapely.to_wkb(shapely.set_srid(values, SRID), hex=True,
                              include_srid=True).tolist()
    return [_field_text(v) for v in items]


def _field_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value).translate(_ESCAPES)
