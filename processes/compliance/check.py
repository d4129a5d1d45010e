"""The compliance check itself: a boundary, a business stage and a use code
in; findings and the overall verdict out (plain data, JSON-ready)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import shapely
from psycopg import sql

from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.inforce import in_force
from onemap.core.landuse import classes_file, load_classes
from onemap.core.registry import Layer, Text, load_layers
from onemap.core.settings import config_dir as default_config_dir
from onemap.core.settings import load_yaml
from processes.compliance import conditions
from processes.compliance.boundary import Boundary
from processes.compliance.overlay import OverlayRow, overlay
from processes.compliance.rules import (
    Rule,
    RuleSet,
    Verdicts,
    load_rule_sets,
    load_verdicts,
    rule_set_for,
)

M2_PER_MU = 10000 / 15   # 1 亩 = 666.67 m²
M2_PER_HA = 10000


@dataclass(frozen=True)
class Config:
    """config/compliance.yaml, config/rules/, the layer registry and the
    land-use classification, loaded once."""

    layers: dict[str, Layer]
    rule_sets: dict[str, RuleSet]
    verdicts: Verdicts
    limits: dict[str, float]
    city: dict[str, str]
    map: dict[str, Any]
    classes: dict[str, Text]
    plot_indicators: conditions.PlotIndicators


@cache
def load_config(directory: Path | None = None) -> Config:
    config_dir = directory or default_config_dir()
    layers = load_layers(config_dir / "layers.yaml")
    verdicts = load_verdicts(config_dir / "compliance.yaml")
    settings = load_yaml(config_dir / "compliance.yaml")
    classes = {code: c.name for code, c in load_classes(classes_file(config_dir)).items()}
    rule_sets = load_rule_sets(config_dir / "rules", layers, verdicts)
    plot_indicators = conditions.load_indicators(settings)
    conditions.check_rules([r for rs in rule_sets.values() for r in rs.rules], plot_indicators)
    return Config(layers={layer.id: layer for layer in layers}, rule_sets=rule_sets, verdicts=verdicts,
                  limits=settings["limits"], city=settings["city"], map=settings["map"], classes=classes,
                  plot_indicators=plot_indicators)


def check_config(directory: Path) -> Config:
    """配置校验: the rule sets of a configuration directory load (config/
    components.yaml's config_checks); not cached, each candidate is read once."""
    return load_config.__wrapped__(directory)


@dataclass(frozen=True)
class CheckRequest:
    stage: str
    use_code: str
    case_id: str
    project_name: str
    declared: conditions.Declared = conditions.NOTHING_DECLARED


def request_from_inputs(inputs: dict[str, Any], config: Config) -> tuple[CheckRequest, RuleSet]:
    """The stage, use code and case of the process inputs, validated."""
    stage = str(inputs.get("stage") or "").strip()
    rule_set = rule_set_for(config.rule_sets, stage)
    stages = "、".join(s for r in config.rule_sets.values() for s in r.stages)
    if rule_set is None:
        raise invalid("stage", f"业务阶段“{stage}”没有规则集；可用：{stages}", f"No rule set for business stage '{stage}'; available: {stages}")
    use_code = str(inputs.get("use_code") or "").strip()
    if use_code not in config.classes:
        raise invalid("use_code", f"用地用途代码“{use_code}”不在《国土空间调查、规划、用途管制用地用海分类》中", f"Land-use code '{use_code}' is not a code of the land and sea use classification")
    declared = conditions.parse(inputs.get("indicators"), config.plot_indicators, stage)
    return CheckRequest(stage=stage, use_code=use_code, case_id=str(inputs.get("case_id") or "").strip(),
                        project_name=str(inputs.get("project_name") or "").strip(), declared=declared), rule_set


def canonical_sha256(value: Any) -> str:
    """SHA-256 of a JSON value in canonical form (sorted keys, no spaces):
    how the verification hash of a result is computed."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _areas(m2: float, total: float | None = None) -> dict[str, float]:
    areas = {"overlap_m2": round(m2, 2), "overlap_mu": round(m2 / M2_PER_MU, 4), "overlap_ha": round(m2 / M2_PER_HA, 4)}
    if total:
        areas["share"] = round(m2 / total, 6)
    return areas


def measure(conn: psycopg.Connection, boundary: Boundary, config: Config) -> dict[str, float]:
    """Ellipsoidal area of the boundary and the area outside the city;
    refuses what the limits do not allow (nothing is stored before this)."""
    city = config.layers[config.city["layer"]]
    row = conn.execute(sql.SQL("""
        WITH b AS MATERIALIZED (SELECT ST_GeomFromWKB(%(b)s, 4490) AS g)
        SELECT ST_Area(b.g::geography),
               (SELECT CASE WHEN ST_CoveredBy(b.g, c.geom) THEN 0
                            ELSE ST_Area(ST_Difference(b.g, c.geom)::geography) END
                FROM {table} c WHERE c.{field} = %(value)s LIMIT 1)
        FROM b""").format(table=sql.Identifier(city.schema, city.table_name),
                          field=sql.Identifier(config.city["field"])),
        {"b": boundary.geometry.wkb, "value": config.city["value"]}).fetchone()
    area, outside = float(row[0]), row[1]
    limits = config.limits
    if area < limits["min_area_m2"]:
        raise invalid("boundary", f"项目用地面积为 {area:.3f} 平方米，小于下限 {limits['min_area_m2']} 平方米", f"The project area is {area:.3f} m², below the minimum of {limits['min_area_m2']} m²")
    if area > limits["max_area_km2"] * 1e6:
        raise invalid("boundary", f"项目用地面积 {area / 1e6:.2f} 平方公里超过上限 {limits['max_area_km2']} 平方公里", f"The project area of {area / 1e6:.2f} km² exceeds the limit of {limits['max_area_km2']} km²", 413)
    if outside is None:
        raise OneMapError(Problem(503, "ServiceUnavailable", "本市行政区数据尚未加载，无法检测",
                                  "The city's administrative boundary is not loaded: cannot check"))
    if float(outside) > limits["outside_city_m2"]:
        whole = float(outside) >= area * 0.999
        raise invalid("boundary", ("项目用地范围不在本市范围内" if whole else f"项目用地范围有 {float(outside):,.2f} 平方米位于本市范围外")
                  + "：请检查坐标与坐标系（crs、带号）", ("The boundary lies outside the city" if whole
                   else f"{float(outside):,.2f} m² of the boundary lie outside the city")
                  + ": check the coordinates and their CRS (crs, zone)")
    return {"area_m2": area, "outside_m2": float(outside)}


def _feature(row: OverlayRow, verdict: str, total: float) -> dict[str, Any]:
    feature = {"id": row.feature_id, **row.attributes, **_areas(row.overlap_m2, total), "verdict": verdict}
    if row.distance_m is not None:
        feature["distance_m"] = round(row.distance_m, 2)
    return feature


def judge(rule: Rule, rows: list[OverlayRow], use_code: str, total: float, config: Config,
          rule_set: RuleSet, declared: conditions.Declared = conditions.NOTHING_DECLARED) -> dict[str, Any]:
    """One finding: the rule's verdict from its overlay rows (and, for a
    plot condition, the project's indicators)."""
    verdicts = config.verdicts
    layer = config.layers[rule.layer]
    finding: dict[str, Any] = {"rule": rule.id, "title": rule.title.as_dict(), "layer": rule.layer,
                               "layer_title": layer.title.as_dict(), "relation": rule.relation,
                               "applicable": rule.applies_to(use_code)}
    features = [r for r in rows if r.kind == "feature"]
    part = sum(r.overlap_m2 for r in rows if r.kind == "part")
    message = rule.when_empty if any(r.kind == "empty" for r in rows) else None
    if rule.relation == "condition":
        judged = conditions.judge(rule, [r for r in features if r.overlap_m2 > rule.tolerance_m2], declared,
                                  config.plot_indicators, verdicts)
        verdict, counted, area, message = judged.verdict, judged.counted, judged.area_m2, judged.message
        finding.update(judged.numbers)
    elif rule.relation == "distance":
        counted = [(r, rule.verdict) for r in features]
        verdict = rule.verdict if counted else verdicts.passed
        area = part
    else:
        counted = [(r, rule.verdict if rule.compatibility is None
                    else rule_set.compatibility.level(str(r.attributes.get(rule.compatibility)), use_code))
                   for r in features if r.overlap_m2 > rule.tolerance_m2]
        if rule.relation == "within":
            verdict = rule.verdict if part > rule.tolerance_m2 else verdicts.passed
            area = part
            counted = [(r, verdicts.passed) for r, _ in counted]
        else:
            verdict = verdicts.worst([v for _, v in counted]) if counted else verdicts.passed
            area = sum(r.overlap_m2 for r, v in counted if v == verdict)
    finding["verdict"] = verdict
    finding["verdict_en"] = verdicts.english[verdict]
    finding.update(_areas(area, total))
    finding["count"] = len(counted)
    values = {"overlap_m2": f"{area:,.2f}", "overlap_mu": f"{area / M2_PER_MU:,.2f}",
              "overlap_ha": f"{area / M2_PER_HA:,.4f}", "share_pct": f"{area / total * 100:.2f}",
              "count": len(counted), "buffer_m": f"{rule.buffer_m:g}"}
    if message is not None:
        finding["message"] = message.as_dict()
    elif verdict != verdicts.passed or rule.verdict == verdicts.passed:
        finding["message"] = {"zh": rule.message.zh.format(**values), "en": rule.message.en.format(**values)}
    elif not finding["applicable"]:
        finding["message"] = {"zh": "该规则不适用于本项目用途", "en": "The rule does not apply to the project's use"}
    else:
        finding["message"] = {"zh": "未发现问题", "en": "No issue found"}
    order = (lambda fv: fv[0].distance_m or 0.0) if rule.relation == "distance" else (lambda fv: -fv[0].overlap_m2)
    listed = sorted(counted, key=order)
    limit = int(config.limits["max_features_listed"])
    finding["features"] = [_feature(r, v, total) for r, v in listed[:limit]]
    finding["features_omitted"] = max(0, len(listed) - limit)
    return finding


def _overlap_features(rule_rows: dict[str, list[OverlayRow]], findings: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
    """The overlap geometries of the listed features (and the parts outside
    a `within` layer, the part near a `distance` layer), as GeoJSON features."""
    out = []
    for finding in findings:
        listed = {f["id"]: f["verdict"] for f in finding["features"]}
        for row in rule_rows.get(finding["rule"], []):
            if not row.geojson or (row.kind == "feature" and row.feature_id not in listed):
                continue
            verdict = listed.get(row.feature_id, finding["verdict"]) if row.kind == "feature" else finding["verdict"]
            if row.kind != "feature" and row.overlap_m2 <= 0:
                continue
            out.append({"type": "Feature", "geometry": json.loads(row.geojson),
                        "properties": {"rule": finding["rule"], "layer": finding["layer"], "kind": row.kind,
                                       "feature_id": row.feature_id, "verdict": verdict,
                                       "overlap_m2": round(row.overlap_m2, 2)}})
    return out


def data_versions(conn: psycopg.Connection, rules: list[Rule], config: Config,
                  rule_rows: dict[str, list[OverlayRow]], checked_at: str) -> dict[str, Any]:
    """Which data the check saw: the plan versions in force and, per layer,
    the versions of the features it overlapped (现状 layers: as of the check)."""
    versions = [{"plan_version": r[0], "title": r[1], "valid_from": r[2].isoformat(),
                 "published_at": r[3].isoformat()} for r in conn.execute(
        "SELECT plan_version, title, valid_from, published_at FROM plan.plan_version "
        f"WHERE {in_force()} ORDER BY valid_from")]
    layers: dict[str, Any] = {}
    for rule in rules:
        layer = config.layers[rule.layer]
        entry = layers.setdefault(layer.id, {"table": layer.table, "versioned": layer.versioned})
        if layer.versioned:
            seen = {r.attributes.get("plan_version") for r in rule_rows.get(rule.id, []) if r.kind == "feature"}
            entry["plan_versions"] = sorted(set(entry.get("plan_versions", [])) | {v for v in seen if v})
        else:
            entry["as_of"] = checked_at
    return {"plan_versions_in_force": versions, "layers": layers}


def run_check(conn: psycopg.Connection, boundary: Boundary, request: CheckRequest, rule_set: RuleSet,
              config: Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result of a check and the overlap geometries (a GeoJSON
    FeatureCollection). Reads only; storing is store.py's."""
    measured = measure(conn, boundary, config)
    total = measured["area_m2"]
    declared = [p.get("declared_ha") for p in boundary.parcels]
    if declared and all(declared) and abs(sum(declared) * M2_PER_HA - total) > 0.01 * total:
        boundary.notes.append(Text(
            f"坐标文件申报面积 {sum(declared):.4f} 公顷，与计算的椭球面积 {total / M2_PER_HA:.4f} 公顷相差超过 1%",
            f"The coordinate file declares {sum(declared):.4f} ha; the ellipsoidal area is "
            f"{total / M2_PER_HA:.4f} ha (more than 1% apart)"))
    applicable = [r for r in rule_set.rules if r.applies_to(request.use_code)]
    rows = overlay(conn, boundary.geometry.wkb, applicable, config.layers, max_lat=boundary.geometry.bounds[3])
    rule_rows: dict[str, list[OverlayRow]] = defaultdict(list)
    for row in rows:
        rule_rows[row.rule].append(row)
    findings = [judge(rule, rule_rows.get(rule.id, []), request.use_code, total, config, rule_set, request.declared)
                for rule in rule_set.rules]
    verdict = config.verdicts.worst([f["verdict"] for f in findings])
    checked_at = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
    minx, miny, maxx, maxy = boundary.geometry.bounds
    use = config.classes[request.use_code]
    result = {
        "case_id": request.case_id,
        "project_name": request.project_name,
        "stage": request.stage,
        "use_code": request.use_code,
        "use_name": use.as_dict(),
        **({"indicators": request.declared.as_dict()} if request.declared.values else {}),
        "verdict": verdict,
        "verdict_en": config.verdicts.english[verdict],
        "boundary": {
            "area_m2": round(total, 2), "area_mu": round(total / M2_PER_MU, 4), "area_ha": round(total / M2_PER_HA, 4),
            "bbox": [round(v, 7) for v in (minx, miny, maxx, maxy)],
            "parts": len(boundary.geometry.geoms),
            "holes": sum(len(p.interiors) for p in boundary.geometry.geoms),
            "source_format": boundary.source_format, "source_crs": f"EPSG:{boundary.source_epsg}",
            "parcels": boundary.parcels, "notes": [n.as_dict() for n in boundary.notes],
            "centroid": [round(c, 7) for c in shapely.centroid(boundary.geometry).coords[0]],
        },
        "findings": findings,
        "rule_set": rule_set.describe(),
        "data_versions": data_versions(conn, list(rule_set.rules), config, rule_rows, checked_at),
        "checked_at": checked_at,
    }
    overlaps = {"type": "FeatureCollection",
                "features": _overlap_features(rule_rows, findings)}
    return result, overlaps
