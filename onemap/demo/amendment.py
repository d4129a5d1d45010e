"""The demo plan's second version (规划修改): in 2025 the city assigns the
reserved land (16 留白用地) inside its urban development boundary — half
to class-2 urban housing, half to class-1 industry — and turns a quarter
of its class-2 industrial land into retail commerce (退二进三); the control
lines do not change. Written through the publish path's own steps (open
the version, carry every plan layer forward with the changed classes, close
the version before, audit) in the loader's transaction, so supervision has
two plan versions to measure and the comparison tools two to compare."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from onemap.core import audit
from onemap.core.landuse import names_zh
from onemap.core.registry import load_layers
from onemap.demo.generate import PLAN_TITLE
from onemap.demo.supervision import DEMO
from processes.plan.results import carry_forward, close_previous, open_version

VERSION = "2021-2035-v2"
TITLE = f"{PLAN_TITLE}（2025年局部修改）"
VALID_FROM = dt.datetime(2025, 7, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
# (class in v1, modulus, {id modulo it: class in v2}): which parcels change, by their v1 id
CHANGES = (("16", 2, {0: "070102", 1: "100101"}),
           ("100102", 4, {0: "090101"}))


def amended(code: str, parcel_id: int) -> str:
    """A v1 parcel's class in the amendment."""
    for before, modulus, after in CHANGES:
        if code == before and parcel_id % modulus in after:
            return after[parcel_id % modulus]
    return code


def _changed(column: str, value: dict[str, str] | None = None) -> sql.Composable:
    """SQL of a GHYDYH column in the amendment: the class code, or what
    `value` maps the code to (its name)."""
    return sql.SQL("CASE {} ELSE {} END").format(sql.SQL(" ").join(
        sql.SQL("WHEN ydyhdm = {} AND mod(id, {}) = {} THEN {}").format(
            sql.Literal(before), sql.Literal(modulus), sql.Literal(rest),
            sql.Literal(value[code] if value else code))
        for before, modulus, after in CHANGES for rest, code in after.items()), sql.Identifier(column))


def load(conn: psycopg.Connection) -> dict[str, int]:
    """Publish the amendment; the number of parcels whose class it changes."""
    changed_columns = {"ydyhdm": _changed("ydyhdm"), "ydyhmc": _changed("ydyhmc", names_zh())}
    layers = [layer for layer in load_layers() if layer.versioned]
    (changed,) = conn.execute(sql.SQL("SELECT count(*) FROM plan.ghydyh WHERE valid_to IS NULL AND {} <> ydyhdm").format(
        changed_columns["ydyhdm"])).fetchone()
    open_version(conn, VERSION, TITLE, VALID_FROM, DEMO)
    counts = {layer.id: carry_forward(conn, layer, VERSION, VALID_FROM,
                                      changed_columns if layer.id == "GHYDYH" else None)
              for layer in layers}
    close_previous(conn, layers, VERSION, VALID_FROM)
    audit.record(conn, DEMO, "plan-publish", f"plan_version/{VERSION}", 200,
                 detail={"valid_from": VALID_FROM.isoformat(), "layers": counts, "changed_parcels": changed})
    return {"plan.plan_version": 2, "plan.ghydyh (parcels changed by the amendment)": changed}
