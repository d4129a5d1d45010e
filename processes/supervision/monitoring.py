"""监测 monitoring values: a time series per indicator × unit × year.
Computed values come from the models at that year (so a past year can be
recomputed and compared); statistics that maps cannot give are imported per
unit and year, validated whole before anything is written.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import psycopg

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import invalid
from processes.supervision import catalogue
from processes.supervision.models import AREA_KINDS, AREA_UNITS, Evaluator, Result

STATS_COLUMNS = ("code", "xzqdm", "period", "value", "unit")
VALUE_SOURCES = ("imported", "reported")


@dataclass(frozen=True)
class Value:
    code: str
    xzqdm: str
    period: int
    value: float
    unit: str
    model: str | None
    model_version: int | None
    data_versions: dict[str, Any]


def stored(conn: psycopg.Connection, code: str, period: int) -> Result:
    """The stored values of an indicator in a year (a ratio's statistic)."""
    rows = conn.execute("SELECT xzqdm, value, source FROM supervision.indicator_value "
                        "WHERE code = %s AND period = %s", (code, period)).fetchall()
    return Result({x: v for x, v, _ in rows}, {f"indicator:{code}": {"period": period,
                                                                      "sources": sorted({s for *_, s in rows})}})


def compute(conn: psycopg.Connection, year: int, codes: list[str] | None = None) -> list[Value]:
    """The values of the model-computed indicators (all, or `codes`) for
    every unit of their levels, not stored."""
    indicators = {r[0]: r[1:] for r in conn.execute(
        "SELECT code, unit, model, item->'levels' FROM supervision.indicator WHERE model IS NOT NULL "
        "AND (%(c)s::text[] IS NULL OR code = ANY(%(c)s)) ORDER BY code", {"c": codes})}
    unknown = sorted(set(codes or ()) - set(indicators))
    if unknown:
        raise invalid("indicators", f"指标不存在或没有计算模型：{'、'.join(unknown)}",
                      f"Unknown indicators, or ones without a model: {', '.join(unknown)}", 404)
    levels = dict(conn.execute("SELECT xzqdm, xzqjb FROM base.xzq").fetchall())
    evaluator = Evaluator(conn, year, lambda code: stored(conn, code, year))
    values = []
    for code, (unit, model, item_levels) in indicators.items():
        result = evaluator.model(model)
        version = evaluator.models[model]
        scale = AREA_UNITS.get(unit, 1.0) if version.kind in AREA_KINDS else 1.0
        wanted = set(item_levels or catalogue.LEVELS)
        values += [Value(code, xzqdm, year, v * scale, unit, model, version.version, result.data_versions)
                   for xzqdm, v in sorted(result.values.items()) if levels.get(xzqdm) in wanted]
    return values


def compute_and_store(database_url: str, year: int, principal: Principal,
                      codes: list[str] | None = None) -> list[Value]:
    """Compute and store a year's values in one transaction, audited."""
    with psycopg.connect(database_url) as conn:
        catalogue.sync(conn, principal.name)
        values = compute(conn, year, codes)
        _store(conn, values, "computed", principal)
        audit.record(conn, principal, "indicators.compute", f"supervision.indicator_value/{year}", 200,
                     detail={"year": year, "values": len(values), "indicators": sorted({v.code for v in values})})
    return values


def _store(conn: psycopg.Connection, values: list[Value], source: str, principal: Principal) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO supervision.indicator_value (code, xzqdm, period, value, unit, source, model, model_version, "
            "data_versions, recorded_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (code, xzqdm, period) DO UPDATE SET value = EXCLUDED.value, unit = EXCLUDED.unit, "
            "source = EXCLUDED.source, model = EXCLUDED.model, model_version = EXCLUDED.model_version, "
            "data_versions = EXCLUDED.data_versions, recorded_at = now(), recorded_by = EXCLUDED.recorded_by, "
            "level = NULL",  # a new value is not assessed yet
            [(v.code, v.xzqdm, v.period, v.value, v.unit, source, v.model, v.model_version,
              json.dumps(v.data_versions, ensure_ascii=False), principal.name) for v in values])


def parse_statistics(conn: psycopg.Connection, text: str) -> list[Value]:
    """The rows of a statistics table (CSV: code, xzqdm, period, value,
    unit), each checked against the catalogue and the admin units; the first
    bad row raises a bilingual error naming the row (header = row 1)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in STATS_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise invalid("header", f"第 1 行（表头）缺少列：{'、'.join(missing)}",
                      f"Row 1 (header) lacks the columns {', '.join(missing)}", 422)
    units = dict(conn.execute("SELECT code, unit FROM supervision.indicator").fetchall())
    places = {r[0] for r in conn.execute("SELECT xzqdm FROM base.xzq")}
    seen: dict[tuple[str, str, int], int] = {}
    values = []
    for n, row in enumerate(reader, start=2):
        code, xzqdm, unit = (row["code"] or "").strip(), (row["xzqdm"] or "").strip(), (row["unit"] or "").strip()
        if code not in units:
            raise invalid(f"row {n}: code", f"第 {n} 行：指标 {code or '（空）'} 不在指标目录中",
                          f"Row {n}: indicator '{code}' is not in the catalogue", 422)
        if xzqdm not in places:
            raise invalid(f"row {n}: xzqdm", f"第 {n} 行：行政区代码 {xzqdm or '（空）'} 不存在",
                          f"Row {n}: no admin unit '{xzqdm}'", 422)
        if unit != units[code]:
            raise invalid(f"row {n}: unit", f"第 {n} 行：指标 {code} 的计量单位应为 {units[code]}，而不是“{unit}”",
                          f"Row {n}: indicator {code} is measured in {units[code]}, not '{unit}'", 422)
        try:
            period, value = int(row["period"]), float(row["value"])
        except (TypeError, ValueError):
            raise invalid(f"row {n}: value", f"第 {n} 行：年度应为整数、数值应为数字",
                          f"Row {n}: period must be an integer and value a number", 422) from None
        key = (code, xzqdm, period)
        if key in seen:
            raise invalid(f"row {n}", f"第 {n} 行：与第 {seen[key]} 行重复（{code}，{xzqdm}，{period} 年）",
                          f"Row {n} repeats row {seen[key]} ({code}, {xzqdm}, {period})", 422)
        seen[key] = n
        values.append(Value(code, xzqdm, period, value, unit, None, None, {"statistics": "imported"}))
    if not values:
        raise invalid("file", "表中没有数据行", "The table has no data rows", 422)
    return values


def import_statistics(database_url: str, text: str, principal: Principal, source: str = "imported") -> int:
    """Load a statistics table in one transaction (all rows or none),
    audited; the number of values loaded."""
    with psycopg.connect(database_url) as conn:
        return store_statistics(conn, text, principal, source)


def store_statistics(conn: psycopg.Connection, text: str, principal: Principal, source: str = "imported") -> int:
    """Check and store a statistics table in the caller's transaction."""
    if source not in VALUE_SOURCES:
        raise invalid("source", f"来源应为 {'/'.join(VALUE_SOURCES)}", f"source must be one of {VALUE_SOURCES}")
    catalogue.sync(conn, principal.name)
    values = parse_statistics(conn, text)
    _store(conn, values, source, principal)
    audit.record(conn, principal, "indicators.statistics", "supervision.indicator_value", 200,
                 input_sha256=audit.sha256_hex(text.encode("utf-8")), detail={"rows": len(values)})
    return len(values)


def series(conn: psycopg.Connection, code: str, xzqdm: str | None = None,
           period: int | None = None) -> list[dict[str, Any]]:
    """Stored values of an indicator, by unit and year."""
    rows = conn.execute(
        "SELECT xzqdm, period, value, unit, source, model, model_version, data_versions "
        "FROM supervision.indicator_value WHERE code = %(c)s AND (%(x)s::text IS NULL OR xzqdm = %(x)s) "
        "AND (%(p)s::int IS NULL OR period = %(p)s) ORDER BY xzqdm, period",
        {"c": code, "x": xzqdm, "p": period}).fetchall()
    keys = ("xzqdm", "period", "value", "unit", "source", "model", "model_version", "data_versions")
    return [dict(zip(keys, row, strict=True)) for row in rows]
