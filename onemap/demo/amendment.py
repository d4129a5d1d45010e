"""The demo plan's second version (规划修改): in 2025 the city assigns the
reserved land (16 留白用地) inside its urban development boundary — half
to class-2 urban housing, half to class-1 industry — and nothing else
changes. Written through the publish path's own steps (open the version,
carry every plan layer forward with the changed classes, close the
version before, audit) in the loader's transaction, so supervision has two
plan versions to measure and the comparison tools have two to compare."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from onemap.core import audit
from onemap.core.landuse import names_zh
from onemap.core.registry import load_layers
from onemap.demo.generate import PLAN_TITLE, PLAN_VERSION
from onemap.demo.supervision import DEMO
from processes.plan.results import carry_forward, close_previous, open_version

VERSION = "2021-2035-v2"
TITLE = f"{PLAN_TITLE}（2025年局部修改）"
VALID_FROM = dt.datetime(2025, 7, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
RESERVED = "16"
ASSIGNED = ("070102", "100101")  # even ids, odd ids


def load(conn: psycopg.Connection) -> dict[str, int]:
    """Publish the amendment; the number of reserved parcels assigned."""
    names = names_zh()
    code = sql.SQL("CASE WHEN ydyhdm = {r} THEN (CASE WHEN mod(id, 2) = 0 THEN {a} ELSE {b} END) ELSE ydyhdm END").format(
        r=sql.Literal(RESERVED), a=sql.Literal(ASSIGNED[0]), b=sql.Literal(ASSIGNED[1]))
    name = sql.SQL("CASE WHEN ydyhdm = {r} THEN (CASE WHEN mod(id, 2) = 0 THEN {a} ELSE {b} END) ELSE ydyhmc END").format(
        r=sql.Literal(RESERVED), a=sql.Literal(names[ASSIGNED[0]]), b=sql.Literal(names[ASSIGNED[1]]))
    layers = [layer for layer in load_layers() if layer.versioned]
    open_version(conn, VERSION, TITLE, VALID_FROM, DEMO)
    counts = {layer.id: carry_forward(conn, layer, VERSION, VALID_FROM,
                                      {"ydyhdm": code, "ydyhmc": name} if layer.id == "GHYDYH" else None)
              for layer in layers}
    close_previous(conn, layers, VERSION, VALID_FROM)
    (assigned,) = conn.execute("SELECT count(*) FROM plan.ghydyh WHERE plan_version = %s AND ydyhdm = %s",
                               (PLAN_VERSION, RESERVED)).fetchone()
    audit.record(conn, DEMO, "plan-publish", f"plan_version/{VERSION}", 200,
                 detail={"valid_from": VALID_FROM.isoformat(), "layers": counts, "assigned_reserved": assigned})
    return {"plan.plan_version": 2, "plan.ghydyh (reserved land assigned in the amendment)": assigned}
