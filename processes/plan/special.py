"""专项规划与总体规划的一致性 special plans against the master plan.

`check_against_master_plan` takes one special plan layer (ZXGH_*) and the
master plan in force at the same instant and finds
- construction facilities (the classes `master_plan_check.construction_prefixes`
  of the special-plan edition) in the ecological red line or the permanent
  basic farmland (its `controls`), with the overlap's ellipsoidal area;
- facility land on master plan land use that the compatibility matrix
  (config/rules/compatibility.yaml) does not allow (不符合) or allows with
  conditions (限制), with the area of land so planned under the feature.

It is a plain function on a connection, so the horizontal transmission
check can run it inside its own transaction for each special plan layer it
lists, and the process special-plan-check runs it for staff.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.inforce import in_force
from onemap.core.registry import Layer, load_layers
from onemap.core.settings import config_dir, load_yaml
from processes.compliance.rules import Compatibility, load_compatibility, load_verdicts
from processes.qc.spec import editions

EDITION = "special-2024"


@dataclass(frozen=True)
class MasterPlanFinding:
    layer: str
    feature_id: int
    key: str                 # the feature's BSM
    ydyhdm: str              # the facility's land use
    against: str             # STBHHX / YJJBNT / GHYDYH
    other: str               # the control line feature's key, or the planned land use code
    level: str               # 不符合 / 限制
    area_m2: float
    message_zh: str
    message_en: str
    geometry: dict[str, Any] | None   # the overlap, GeoJSON (CRS84)
    violation: bool = True   # False for 限制: allowed with conditions, reported

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def special_plan_layers() -> list[Layer]:
    """The registry layers that store a kind of special plan (the edition's
    layers with `publish`)."""
    published = {la.publish for la in editions()[EDITION].layers if la.publish}
    return [layer for layer in load_layers() if layer.id in published]


def _settings() -> dict[str, Any]:
    return load_yaml(editions()[EDITION].path)["master_plan_check"]


def check_against_master_plan(conn: psycopg.Connection, layer_id: str, at: dt.datetime | None = None,
                              compatibility: Compatibility | None = None) -> list[MasterPlanFinding]:
    """The findings of one special plan layer against the master plan, both
    as in force at `at` (default: now)."""
    registry = {layer.id: layer for layer in load_layers()}
    layer = registry.get(layer_id)
    if layer is None or layer not in special_plan_layers():
        raise ValueError(f"{layer_id} 不是专项规划图层 / is not a special plan layer")
    settings = _settings()
    verdicts = load_verdicts()
    compatibility = compatibility or load_compatibility(config_dir() / "rules" / "compatibility.yaml", verdicts)
    at_sql = "now()" if at is None else "%(at)s"
    params = {"at": at, "prefixes": [p + "%" for p in settings["construction_prefixes"]],
              "min": float(settings["min_area_m2"])}
    findings = []
    for control in settings["controls"]:
        target = registry[control]
        rows = conn.execute(sql.SQL("""
            SELECT id, bsm, ydyhdm, other, ST_Area(geom::geography), ST_AsGeoJSON(geom, 8)::json FROM (
                SELECT f.id, f.bsm, f.ydyhdm, c.{key}::text AS other,
                       ST_CollectionExtract(ST_Intersection(f.geom, c.geom), 3) AS geom
                FROM {features} f JOIN {controls} c ON c.geom && f.geom AND ST_Intersects(c.geom, f.geom)
                WHERE {f_in_force} AND {c_in_force} AND f.ydyhdm LIKE ANY(%(prefixes)s)) s
            WHERE ST_Area(geom::geography) > %(min)s ORDER BY id, other""").format(
            key=sql.Identifier(target.key_fields[0]), features=sql.Identifier(layer.schema, layer.table_name),
            controls=sql.Identifier(target.schema, target.table_name),
            f_in_force=sql.SQL(in_force(at_sql, "f")), c_in_force=sql.SQL(in_force(at_sql, "c"))),
            params).fetchall()
        findings += [MasterPlanFinding(
            layer_id, fid, bsm, code, control, other, compatibility.default, round(area, 2),
            f"{layer.title.zh}要素 {fid}（{bsm}，{code}）位于{target.title.zh} {other} 内 {area:,.2f} 平方米，"
            f"该处不得建设",
            f"Feature {fid} ({bsm}, {code}) of {layer.title.en} lies {area:,.2f} m² inside "
            f"{target.title.en} {other}, where nothing may be built", geometry)
            for fid, bsm, code, other, area, geometry in rows]
    plan = registry["GHYDYH"]
    rows = conn.execute(sql.SQL("""
        SELECT id, bsm, ydyhdm, planned, ST_Area(geom::geography), ST_AsGeoJSON(geom, 8)::json FROM (
            SELECT f.id, f.bsm, f.ydyhdm, g.ydyhdm AS planned,
                   ST_Union(ST_CollectionExtract(ST_Intersection(f.geom, g.geom), 3)) AS geom
            FROM {features} f JOIN {plan} g ON g.geom && f.geom AND ST_Intersects(g.geom, f.geom)
            WHERE {f_in_force} AND {g_in_force}
            GROUP BY f.id, f.bsm, f.ydyhdm, g.ydyhdm) s
        WHERE ST_Area(geom::geography) > %(min)s ORDER BY id, planned""").format(
        features=sql.Identifier(layer.schema, layer.table_name), plan=sql.Identifier(plan.schema, plan.table_name),
        f_in_force=sql.SQL(in_force(at_sql, "f")), g_in_force=sql.SQL(in_force(at_sql, "g"))), params).fetchall()
    for fid, bsm, code, planned, area, geometry in rows:
        level = compatibility.level(planned, code)
        if level == compatibility.same_class:
            continue
        findings.append(MasterPlanFinding(
            layer_id, fid, bsm, code, "GHYDYH", planned, level, round(area, 2),
            f"{layer.title.zh}要素 {fid}（{bsm}，{code}）有 {area:,.2f} 平方米位于总体规划用地 {planned} 上：{level}",
            f"{area:,.2f} m² of feature {fid} ({bsm}, {code}) of {layer.title.en} lie on master plan land use "
            f"{planned}: {verdicts.english.get(level, level)}", geometry, level == compatibility.default))
    return findings
