"""指标目录 the indicator catalogue as data: config/indicators/indicators.yaml
(items), systems.yaml (systems and their groups), models.yaml (model
parameters), plus official tables imported from CSV. This module validates
them and writes them to the `supervision` tables; nothing here computes.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import invalid
from onemap.core.settings import config_dir, load_yaml

TYPES = ("约束性", "预期性", "建议性")
DIRECTIONS = ("higher", "lower", "range")
SOURCES = ("map", "stats", "both")
LEVELS = ("市", "县", "乡")
# the columns of an official table (CSV, UTF-8, header row)
CSV_COLUMNS = ("code", "name_zh", "name_en", "system", "dimension", "category", "unit", "type", "direction",
               "definition")


class CatalogueError(ValueError):
    """A catalogue file that cannot be used (the message names file and entry)."""


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str
    unit: str
    type: str
    direction: str
    model: str | None
    item: dict[str, Any] = field(compare=False)

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(self.item.get("levels") or LEVELS)

    def targets(self) -> dict[int, dict[str, float]]:
        """Target year -> XZQ code -> value (指标目标与分解)."""
        return {int(year): {str(k): float(v) for k, v in units.items()}
                for year, units in (self.item.get("targets") or {}).items()}


@dataclass(frozen=True)
class System:
    id: str
    name_zh: str
    name_en: str
    groups: dict[str, tuple[str, ...]]  # dimension -> member codes, in order
    maps: tuple[str, ...] = ()  # members the annual report maps by township


def indicators_dir(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / "indicators"


def _indicator(entry: dict[str, Any], where: str) -> Indicator:
    try:
        code, name, unit = str(entry["code"]), entry["name"], str(entry["unit"])
        indicator = Indicator(code, str(name["zh"]), str(name["en"]), unit, str(entry["type"]),
                              str(entry["direction"]), entry.get("model"), entry)
    except (KeyError, TypeError) as exc:
        raise CatalogueError(f"{where}: missing {exc}") from exc
    if indicator.type not in TYPES:
        raise CatalogueError(f"{where} {code}: type must be one of {', '.join(TYPES)}")
    if indicator.direction not in DIRECTIONS:
        raise CatalogueError(f"{where} {code}: direction must be one of {', '.join(DIRECTIONS)}")
    if entry.get("source", "map") not in SOURCES:
        raise CatalogueError(f"{where} {code}: source must be one of {', '.join(SOURCES)}")
    if set(indicator.levels) - set(LEVELS):
        raise CatalogueError(f"{where} {code}: levels must be among {', '.join(LEVELS)}")
    return indicator


def load_indicators(directory: Path | None = None) -> dict[str, Indicator]:
    path = indicators_dir(directory) / "indicators.yaml"
    out: dict[str, Indicator] = {}
    for entry in (load_yaml(path) or {}).get("indicators") or []:
        indicator = _indicator(entry, str(path))
        if indicator.code in out:
            raise CatalogueError(f"{path}: indicator {indicator.code} appears twice")
        out[indicator.code] = indicator
    return out


def load_systems(directory: Path | None = None) -> list[System]:
    path = indicators_dir(directory) / "systems.yaml"
    systems = []
    for entry in (load_yaml(path) or {}).get("systems") or []:
        try:
            systems.append(System(str(entry["id"]), str(entry["name"]["zh"]), str(entry["name"]["en"]),
                                  {str(g): tuple(str(c) for c in codes or ())
                                   for g, codes in (entry.get("members") or {}).items()},
                                  tuple(str(c) for c in entry.get("maps") or ())))
        except (KeyError, TypeError) as exc:
            raise CatalogueError(f"{path}: bad system entry {entry!r}: {exc}") from exc
    return systems


def load_models(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Model id -> {version, kind, ...parameters}."""
    path = indicators_dir(directory) / "models.yaml"
    models = (load_yaml(path) or {}).get("models") or {}
    for name, params in models.items():
        if not isinstance(params, dict) or not isinstance(params.get("version"), int) or "kind" not in params:
            raise CatalogueError(f"{path}: model {name} needs an integer version and a kind")
    return models


def check_catalogue(directory: Path | None = None) -> None:
    """Every reference resolves: system members to items, items to models,
    ratio operands to models or items."""
    indicators, models = load_indicators(directory), load_models(directory)
    for system in load_systems(directory):
        for group, codes in system.groups.items():
            missing = [c for c in codes if c not in indicators]
            if missing:
                raise CatalogueError(f"system {system.id} / {group}: unknown indicators {', '.join(missing)}")
        members = {c for codes in system.groups.values() for c in codes}
        if set(system.maps) - members:
            raise CatalogueError(f"system {system.id}: maps {', '.join(sorted(set(system.maps) - members))} "
                                 "are not members")
    for indicator in indicators.values():
        if indicator.model and indicator.model not in models:
            raise CatalogueError(f"indicator {indicator.code}: unknown model {indicator.model}")
    for name, params in models.items():
        for operand in (params.get("numerator"), params.get("denominator")):
            if operand and not (operand.get("model") in models or operand.get("indicator") in indicators):
                raise CatalogueError(f"model {name}: unknown operand {operand}")


def sync(conn: psycopg.Connection, by: str = "system") -> None:
    """Write the configured catalogue to the database (idempotent): items,
    system membership, and each model's configured version, which becomes
    the active one when it is newer than every stored version."""
    check_catalogue()
    for indicator in load_indicators().values():
        _upsert_indicator(conn, indicator, "config")
    for system in load_systems():
        _write_members(conn, system.id, system.name_zh, system.groups)
    for name, params in load_models().items():
        params = dict(params)
        version = params.pop("version")
        newest = conn.execute("SELECT max(version) FROM supervision.model_version WHERE model = %s",
                              (name,)).fetchone()[0]
        if newest is None or version > newest:
            add_model_version(conn, name, version, params, by)


def add_model_version(conn: psycopg.Connection, model: str, version: int, params: dict[str, Any],
                      by: str) -> None:
    """A new version of a model, made the active one."""
    kind = params.get("kind")
    conn.execute("UPDATE supervision.model_version SET active = false WHERE model = %s AND active", (model,))
    conn.execute("INSERT INTO supervision.model_version (model, version, kind, params, active, created_by) "
                 "VALUES (%s, %s, %s, %s, true, %s)",
                 (model, version, kind, json.dumps(params, ensure_ascii=False), by))


def _upsert_indicator(conn: psycopg.Connection, indicator: Indicator, origin: str) -> None:
    conn.execute(
        "INSERT INTO supervision.indicator (code, name_zh, name_en, unit, type, direction, model, origin, item) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO UPDATE SET "
        "name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en, unit = EXCLUDED.unit, type = EXCLUDED.type, "
        "direction = EXCLUDED.direction, model = coalesce(EXCLUDED.model, supervision.indicator.model), "
        "item = supervision.indicator.item || EXCLUDED.item, updated_at = now()",
        (indicator.code, indicator.name_zh, indicator.name_en, indicator.unit, indicator.type, indicator.direction,
         indicator.model, origin, json.dumps(indicator.item, ensure_ascii=False)))


def _write_members(conn: psycopg.Connection, system: str, system_zh: str,
                   groups: dict[str, tuple[str, ...]]) -> None:
    position = 0
    for group, codes in groups.items():
        for code in codes:
            position += 1
            conn.execute(
                "INSERT INTO supervision.indicator_member (system, system_zh, dimension, code, position) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (system, code) DO UPDATE SET "
                "system_zh = EXCLUDED.system_zh, dimension = EXCLUDED.dimension, position = EXCLUDED.position",
                (system, system_zh, group, code, position))


def parse_official_table(text: str) -> list[Indicator]:
    """The rows of an official indicator table (CSV), each checked; the first
    bad row raises a bilingual error naming its row (header = row 1) and
    field."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise invalid("header", f"第 1 行（表头）缺少列：{'、'.join(missing)}",
                      f"Row 1 (header) lacks the columns {', '.join(missing)}", 422)
    rows: list[Indicator] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        for column in ("code", "name_zh", "name_en", "system", "dimension", "unit"):
            if not (row.get(column) or "").strip():
                raise invalid(f"row {number}: {column}", f"第 {number} 行：{column} 不能为空",
                              f"Row {number}: {column} is empty", 422)
        values = {k: (v or "").strip() for k, v in row.items() if k}
        checks = (("type", TYPES), ("direction", DIRECTIONS))
        for column, allowed in checks:
            if values[column] not in allowed:
                raise invalid(f"row {number}: {column}",
                              f"第 {number} 行：{column} 应为 {'/'.join(allowed)}，而不是“{values[column]}”",
                              f"Row {number}: {column} must be one of {', '.join(allowed)}, "
                              f"not '{values[column]}'", 422)
        if values["code"] in seen:
            raise invalid(f"row {number}: code", f"第 {number} 行：指标编码 {values['code']} 与第 "
                          f"{seen[values['code']]} 行重复",
                          f"Row {number}: code {values['code']} repeats row {seen[values['code']]}", 422)
        seen[values["code"]] = number
        item = {"code": values["code"], "name": {"zh": values["name_zh"], "en": values["name_en"]},
                "unit": values["unit"], "type": values["type"], "direction": values["direction"],
                "definition": values["definition"], "category": values["category"],
                "system": values["system"], "dimension": values["dimension"]}
        rows.append(Indicator(values["code"], values["name_zh"], values["name_en"], values["unit"],
                              values["type"], values["direction"], None, item))
    if not rows:
        raise invalid("file", "表中没有指标行", "The table has no indicator rows", 422)
    return rows


def import_official_table(database_url: str, text: str, principal: Principal) -> int:
    """Load an official table in one transaction (all rows or none),
    audited; the number of rows loaded."""
    rows = parse_official_table(text)
    with psycopg.connect(database_url) as conn:
        sync(conn, principal.name)
        for indicator in rows:
            _upsert_indicator(conn, indicator, "import")
        systems: dict[str, dict[str, list[str]]] = {}
        for indicator in rows:
            systems.setdefault(indicator.item["system"], {}).setdefault(indicator.item["dimension"], []).append(
                indicator.code)
        for system, groups in systems.items():
            _write_members(conn, system, system, {g: tuple(c) for g, c in groups.items()})
        audit.record(conn, principal, "indicators.import", "supervision.indicator", 200,
                     input_sha256=audit.sha256_hex(text.encode("utf-8")), detail={"rows": len(rows)})
    return len(rows)


def listing(conn: psycopg.Connection, system: str | None = None) -> list[dict[str, Any]]:
    """The catalogue in the database, by system and group order."""
    rows = conn.execute(
        "SELECT m.system, m.system_zh, m.dimension, i.code, i.name_zh, i.name_en, i.unit, i.type, i.direction, "
        "i.model, i.origin FROM supervision.indicator_member m JOIN supervision.indicator i USING (code) "
        "WHERE %(s)s::text IS NULL OR m.system = %(s)s ORDER BY m.system, m.position", {"s": system}).fetchall()
    keys = ("system", "system_zh", "dimension", "code", "name_zh", "name_en", "unit", "type", "direction", "model",
            "origin")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def describe(conn: psycopg.Connection, code: str) -> dict[str, Any]:
    """One item with its systems and its model's active version."""
    row = conn.execute("SELECT item, origin, model FROM supervision.indicator WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise invalid("code", f"指标 {code} 不存在", f"No indicator {code}", 404)
    item, origin, model = row
    systems = [{"system": s, "dimension": d} for s, d in conn.execute(
        "SELECT system, dimension FROM supervision.indicator_member WHERE code = %s ORDER BY system", (code,))]
    active = conn.execute("SELECT version, kind, params FROM supervision.model_version WHERE model = %s AND active",
                          (model,)).fetchone() if model else None
    return {**item, "origin": origin, "systems": systems,
            "model_version": {"model": model, "version": active[0], "kind": active[1], "params": active[2]}
            if active else None}


def model_versions(conn: psycopg.Connection, model: str | None = None) -> list[dict[str, Any]]:
    """Every stored version of a model (or of all), oldest first."""
    rows = conn.execute(
        "SELECT model, version, kind, params, active, created_at, created_by FROM supervision.model_version "
        "WHERE %(m)s::text IS NULL OR model = %(m)s ORDER BY model, version", {"m": model}).fetchall()
    if model is not None and not rows:
        raise invalid("model", f"模型 {model} 不存在", f"No model {model}", 404)
    keys = ("model", "version", "kind", "params", "active", "created_at", "created_by")
    return [{**dict(zip(keys, row, strict=True)), "created_at": row[5].isoformat()} for row in rows]


def activate_model(database_url: str, model: str, version: int | None, principal: Principal) -> dict[str, Any]:
    """Make a stored version of a model the active one (启用); with no
    version, the one before the active version (回退 rollback). One
    transaction, audited. Values computed from then on record it."""
    with psycopg.connect(database_url) as conn:
        sync(conn, principal.name)
        versions = model_versions(conn, model)
        conn.execute("SELECT 1 FROM supervision.model_version WHERE model = %s FOR UPDATE", (model,))
        active = next((v["version"] for v in versions if v["active"]), None)
        if version is None:
            earlier = [v["version"] for v in versions if active is not None and v["version"] < active]
            if not earlier:
                raise invalid("version", f"模型 {model} 的启用版本 v{active} 之前没有版本，无法回退",
                              f"Model {model} has no version before the active v{active} to roll back to", 409)
            version, action = max(earlier), "rollback"
        else:
            action = "activate"
            if version not in {v["version"] for v in versions}:
                raise invalid("version", f"模型 {model} 没有版本 v{version}", f"Model {model} has no version {version}",
                              404)
        # two statements: the one-active index is checked row by row
        conn.execute("UPDATE supervision.model_version SET active = false WHERE model = %s AND active", (model,))
        conn.execute("UPDATE supervision.model_version SET active = true WHERE model = %s AND version = %s",
                     (model, version))
        audit.record(conn, principal, f"indicators.model.{action}", f"model/{model}/{version}", 200,
                     detail={"from": active, "to": version})
        return {"model": model, "active": version, "previous": active, "action": action}
