"""预警 warnings: the rules of config/indicators/warnings.yaml applied to the
stored values of a year. A rule kind is implemented once here; its
parameters are data. A warning records value, threshold, target, rule,
unit, period and the data versions of the value; the same state (indicator,
unit, period, level) is not raised again while it is open or acknowledged,
and a changed level closes the earlier warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import invalid
from onemap.core.inforce import in_force
from onemap.core.registry import load_layers
from onemap.core.settings import load_yaml
from processes.supervision.catalogue import CatalogueError, indicators_dir, load_indicators
from processes.supervision.models import AREA_UNITS, end_of_year

ACTIONS = {"acknowledge": "acknowledged", "close": "closed"}


@dataclass(frozen=True)
class Assessment:
    code: str
    xzqdm: str
    period: int
    level: str          # green / yellow / red
    rule: str
    value: float
    threshold: float
    target: float
    target_year: int
    data_versions: dict[str, Any]


def load_rules() -> dict[str, Any]:
    return load_yaml(indicators_dir() / "warnings.yaml")


SEVERITY = {"green": 0, "yellow": 1, "red": 2}


def target_level(value: float, target: float, direction: str, margin_pct: float) -> tuple[str, float]:
    """The level of a value against a target, and the threshold of the
    level it is in (the yellow line for green and yellow, the target for
    red). higher: below the target is red, within the margin above it
    yellow; lower: the mirror."""
    sign = 1 if direction == "higher" else -1
    yellow_line = target * (1 + sign * margin_pct / 100)
    if sign * (value - target) < 0:
        return "red", target
    if sign * (value - yellow_line) < 0:
        return "yellow", yellow_line
    return "green", yellow_line


def moving_toward(series: list[float], direction: str) -> bool:
    """Whether every step of a series moves the way that misses a target
    (down when higher is better, up when lower is)."""
    sign = 1 if direction == "higher" else -1
    return len(series) > 1 and all(sign * (b - a) < 0 for a, b in zip(series, series[1:], strict=False))


@dataclass(frozen=True)
class Stored:
    """A stored value of the period with what the rules read of it."""

    code: str
    xzqdm: str
    value: float
    unit: str
    data_versions: dict[str, Any]
    direction: str
    target: float | None
    target_year: int | None


class RuleContext:
    """What the rules of one period read beyond the value itself, each read
    once for all values: the series of earlier years, the encroachments of
    the year into a control layer."""

    def __init__(self, conn: psycopg.Connection, period: int) -> None:
        self.conn, self.period = conn, period
        self._series: dict[tuple[str, str], dict[int, float]] | None = None
        self._encroached: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}

    def series(self, code: str, xzqdm: str) -> dict[int, float]:
        if self._series is None:
            self._series = {}
            for c, x, p, v in self.conn.execute(
                    "SELECT code, xzqdm, period, value FROM supervision.indicator_value WHERE period <= %s",
                    (self.period,)):
                self._series.setdefault((c, x), {})[p] = v
        return self._series.get((code, xzqdm), {})

    def encroached_m2(self, layer_id: str, classes: tuple[str, ...]) -> dict[str, float]:
        """XZQ code -> m² of the parcels that became one of `classes` in the
        period (the annual change) inside the layer in force at its end."""
        key = (layer_id, classes)
        if key not in self._encroached:
            self._encroached[key] = encroachment(self.conn, layer_id, classes, self.period)
        return self._encroached[key]


def encroachment(conn: psycopg.Connection, layer_id: str, classes: tuple[str, ...], period: int) -> dict[str, float]:
    """Ellipsoidal area (m²) of the land changed to `classes` (code
    prefixes) in the year's change inside a control layer as in force at the
    end of the year, by township, summed to counties and the city: one
    statement."""
    layer = next((lr for lr in load_layers() if lr.id == layer_id), None)
    if layer is None:
        raise invalid("layer", f"预警规则引用的图层 {layer_id} 不存在", f"The rule's layer {layer_id} does not exist", 500)
    where = sql.SQL(in_force(end_of_year(period), "l") if layer.versioned else "TRUE")
    rows = conn.execute(sql.SQL("""
        WITH changed AS (
            SELECT d.geom FROM supervision.dltb_change c JOIN base.dltb d ON d.id = c.dltb_id
            WHERE c.year = %(p)s AND c.dlbm_after LIKE ANY(%(classes)s)),
        inside AS (
            SELECT ST_Intersection(ch.geom, l.geom) AS geom FROM changed ch
            JOIN {layer} l ON ch.geom && l.geom AND ST_Intersects(ch.geom, l.geom) WHERE {where}),
        township AS (
            SELECT t.xzqdm, c.xzqdm AS county, c.sjxzqdm AS city,
                   sum(ST_Area(ST_Intersection(i.geom, t.geom)::geography)) AS m2
            FROM inside i JOIN base.xzq t ON t.xzqjb = '乡' AND i.geom && t.geom AND ST_Intersects(i.geom, t.geom)
            JOIN base.xzq c ON c.xzqdm = t.sjxzqdm GROUP BY t.xzqdm, c.xzqdm, c.sjxzqdm)
        SELECT unit, sum(m2) FROM township,
               LATERAL (VALUES (township.xzqdm), (township.county), (township.city)) u(unit)
        GROUP BY unit""").format(layer=sql.Identifier(layer.schema, layer.table_name), where=where),
        {"p": period, "classes": [f"{c}%" for c in classes]}).fetchall()
    return {unit: float(m2) for unit, m2 in rows if m2 > 0}


Rule = Callable[[RuleContext, Stored, str, dict[str, Any]], Assessment | None]


def _target_rule(ctx: RuleContext, v: Stored, rule_id: str, rule: dict[str, Any]) -> Assessment | None:
    """target: against the unit's target of the nearest target year."""
    if v.target is None:
        return None
    level, threshold = target_level(v.value, v.target, v.direction, float(rule["yellow_margin_pct"]))
    return Assessment(v.code, v.xzqdm, ctx.period, level, rule_id, v.value, threshold, v.target, v.target_year,
                      v.data_versions)


def _trend_rule(ctx: RuleContext, v: Stored, rule_id: str, rule: dict[str, Any]) -> Assessment | None:
    """trend: the value has moved toward its target in each of the last
    `periods` years (every year stored)."""
    if v.target is None:
        return None
    n = int(rule["periods"])
    series = ctx.series(v.code, v.xzqdm)
    years = range(ctx.period - n, ctx.period + 1)
    if not all(y in series for y in years):
        return None
    level = rule["level"] if moving_toward([series[y] for y in years], v.direction) else "green"
    return Assessment(v.code, v.xzqdm, ctx.period, level, rule_id, v.value, v.target, v.target, v.target_year,
                      {**v.data_versions, "trend_from": ctx.period - n})


def _control_line_rule(ctx: RuleContext, v: Stored, rule_id: str, rule: dict[str, Any]) -> Assessment | None:
    """control_line: any land changed in the year to `changed_to` classes
    inside the control layer; value and threshold in the indicator's unit
    (the area encroached, none allowed)."""
    m2 = ctx.encroached_m2(rule["layer"], tuple(rule["changed_to"])).get(v.xzqdm, 0.0)
    area = m2 * AREA_UNITS.get(v.unit, 1.0)
    return Assessment(v.code, v.xzqdm, ctx.period, rule["level"] if m2 > 0 else "green", rule_id, area, 0.0, 0.0,
                      ctx.period, {**v.data_versions, "encroached_m2": round(m2, 2)})


KINDS: dict[str, Rule] = {"target": _target_rule, "trend": _trend_rule, "control_line": _control_line_rule}


def rules_of(item_rules: Any, type_: str, rules: dict[str, Any]) -> list[str]:
    """The rule ids an indicator is assessed by: its own (one id or a list),
    else the rule of its type."""
    return own_rules(item_rules) or [rules["by_type"][type_]]


def own_rules(item_rules: Any) -> list[str]:
    """The rules an indicator names itself (`warning:` one id or a list)."""
    return [item_rules] if isinstance(item_rules, str) else list(item_rules or [])


REQUIRED = {"target": ("yellow_margin_pct",), "trend": ("periods", "level"),
            "control_line": ("layer", "changed_to", "level")}


def rules_problem(rules: dict[str, Any], indicators: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong with a warnings.yaml (zh, en), or None: every rule of a
    known kind with its parameters and level, every type and indicator
    naming known rules."""
    for rule_id, rule in (rules.get("rules") or {}).items():
        kind = rule.get("kind") if isinstance(rule, dict) else None
        if kind not in KINDS:
            return (f"预警规则 {rule_id} 的类型 {kind} 未实现（应为 {'/'.join(KINDS)}）",
                    f"Warning rule {rule_id} is of unknown kind {kind} (one of {', '.join(KINDS)})")
        missing = [p for p in REQUIRED[kind] if p not in rule]
        if missing:
            return (f"预警规则 {rule_id} 缺少参数 {'、'.join(missing)}",
                    f"Warning rule {rule_id} lacks {', '.join(missing)}")
        if rule.get("level", "yellow") not in SEVERITY:
            return (f"预警规则 {rule_id} 的级别应为 {'/'.join(SEVERITY)}",
                    f"Warning rule {rule_id}: level must be one of {', '.join(SEVERITY)}")
    named = [(f"类型 {t}", f"type {t}", r) for t, r in (rules.get("by_type") or {}).items()]
    named += [(f"指标 {code}", f"indicator {code}", r) for code, item in indicators.items()
              for r in own_rules(item.get("warning"))]
    for zh, en, rule_id in named:
        if rule_id not in (rules.get("rules") or {}):
            return f"{zh} 引用的预警规则 {rule_id} 不存在", f"The warning rule {rule_id} of {en} does not exist"
    return None


def check_config(directory: Path) -> None:
    """配置校验 of config/indicators/warnings.yaml (config/components.yaml's
    config_checks): raises with what is wrong."""
    rules = load_yaml(indicators_dir(directory) / "warnings.yaml")
    problem = rules_problem(rules, {code: i.item for code, i in load_indicators(directory).items()})
    if problem:
        raise CatalogueError(f"{problem[0]} / {problem[1]}")


def assess(conn: psycopg.Connection, period: int, codes: list[str] | None = None) -> list[Assessment]:
    """Every stored value of the year that a rule of its indicator applies
    to, at the worst level its rules give (the first rule on a tie)."""
    rules = load_rules()
    problem = rules_problem(rules, {})
    if problem:
        raise invalid("rule", *problem, 500)
    rows = conn.execute("""
        SELECT v.code, v.xzqdm, v.value, v.unit, v.data_versions, i.direction, i.type, i.item->'warning',
               t.value, t.target_year
        FROM supervision.indicator_value v JOIN supervision.indicator i USING (code)
        LEFT JOIN LATERAL (SELECT t.value, t.target_year FROM supervision.indicator_target t
                           WHERE t.code = v.code AND t.xzqdm = v.xzqdm AND t.target_year >= v.period
                           ORDER BY t.target_year LIMIT 1) t ON true
        WHERE v.period = %(p)s AND i.direction <> 'range' AND (%(c)s::text[] IS NULL OR v.code = ANY(%(c)s))
        ORDER BY v.code, v.xzqdm""", {"p": period, "c": codes}).fetchall()
    ctx = RuleContext(conn, period)
    out = []
    for code, xzqdm, value, unit, versions, direction, type_, own, target, target_year in rows:
        stored = Stored(code, xzqdm, value, unit, versions, direction, target, target_year)
        found = [a for rule_id in rules_of(own, type_, rules)
                 if (a := KINDS[rules["rules"][rule_id]["kind"]](ctx, stored, rule_id, rules["rules"][rule_id]))]
        if found:
            out.append(max(found, key=lambda a: SEVERITY[a.level]))
    return out


def evaluate(database_url: str, period: int, principal: Principal,
             codes: list[str] | None = None) -> dict[str, Any]:
    """Assess a year and raise the warnings not already raised, in one
    transaction, audited: {"raised": [...], "unchanged": n, "levels": {...}}."""
    with psycopg.connect(database_url) as conn:
        assessments = assess(conn, period, codes)
        raised = []
        for a in assessments:
            if a.level == "green":
                continue
            open_levels = {level: wid for wid, level in conn.execute(
                "SELECT id, level FROM supervision.warning WHERE code = %s AND xzqdm = %s AND period = %s "
                "AND state <> 'closed'", (a.code, a.xzqdm, a.period))}
            if a.level in open_levels:
                continue
            for wid in open_levels.values():  # the level changed: the earlier warning is superseded
                _change_state(conn, wid, "closed", principal, f"级别变为 {a.level} / level now {a.level}")
            wid = conn.execute(
                "INSERT INTO supervision.warning (code, xzqdm, period, level, rule, value, threshold, target, "
                "target_year, data_versions, raised_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "RETURNING id", (a.code, a.xzqdm, a.period, a.level, a.rule, a.value, a.threshold, a.target,
                                 a.target_year, json.dumps(a.data_versions, ensure_ascii=False),
                                 principal.name)).fetchone()[0]
            raised.append({"id": wid, **asdict(a)})
        _store_levels(conn, period, codes, assessments)
        levels = {level: sum(1 for a in assessments if a.level == level) for level in ("green", "yellow", "red")}
        audit.record(conn, principal, "indicators.warning", f"supervision.warning/{period}", 200,
                     detail={"period": period, "raised": [w["id"] for w in raised], "levels": levels})
    return {"period": period, "levels": levels, "raised": raised,
            "unchanged": sum(1 for a in assessments if a.level != "green") - len(raised)}


def _store_levels(conn: psycopg.Connection, period: int, codes: list[str] | None,
                  assessments: list[Assessment]) -> None:
    """Each value's level as assessed now (the map layers ZBJC and ZBYJ
    draw it); a value no rule applies to has none."""
    conn.execute("UPDATE supervision.indicator_value SET level = NULL WHERE period = %s "
                 "AND (%s::text[] IS NULL OR code = ANY(%s))", (period, codes, codes))
    with conn.cursor() as cur:
        cur.executemany("UPDATE supervision.indicator_value SET level = %s WHERE code = %s AND xzqdm = %s "
                        "AND period = %s", [(a.level, a.code, a.xzqdm, a.period) for a in assessments])


def _change_state(conn: psycopg.Connection, warning_id: int, state: str, principal: Principal,
                  comment: str) -> None:
    conn.execute("UPDATE supervision.warning SET state = %s, history = history || %s::jsonb WHERE id = %s",
                 (state, json.dumps([{"state": state, "by": principal.name, "comment": comment}],
                                    ensure_ascii=False), warning_id))


def handle(database_url: str, warning_id: int, action: str, comment: str, principal: Principal) -> dict[str, Any]:
    """Acknowledge or close a warning with a comment (audited)."""
    if action not in ACTIONS:
        raise invalid("action", f"操作应为 {'/'.join(ACTIONS)}", f"action must be one of {', '.join(ACTIONS)}")
    if not comment.strip():
        raise invalid("comment", "请填写处理意见", "A comment is required")
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT state FROM supervision.warning WHERE id = %s FOR UPDATE", (warning_id,)).fetchone()
        if row is None:
            raise invalid("warning_id", f"预警 {warning_id} 不存在", f"No warning {warning_id}", 404)
        if row[0] == "closed":
            raise invalid("warning_id", f"预警 {warning_id} 已关闭", f"Warning {warning_id} is closed", 409)
        _change_state(conn, warning_id, ACTIONS[action], principal, comment)
        audit.record(conn, principal, f"indicators.warning.{action}", f"supervision.warning/{warning_id}", 200,
                     detail={"comment": comment})
    return listing(database_url, warning_id=warning_id)[0]


def listing(database_url: str, period: int | None = None, warning_id: int | None = None,
            open_only: bool = False) -> list[dict[str, Any]]:
    """Warnings with their indicator and unit names, reddest first."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("""
            SELECT w.id, w.code, i.name_zh, w.xzqdm, u.xzqmc, w.period, w.level, w.rule, w.value, w.threshold,
                   w.target, w.target_year, i.unit, w.state, w.raised_at, w.data_versions, w.history
            FROM supervision.warning w JOIN supervision.indicator i USING (code)
            LEFT JOIN base.xzq u USING (xzqdm)
            WHERE (%(p)s::int IS NULL OR w.period = %(p)s) AND (%(w)s::bigint IS NULL OR w.id = %(w)s)
              AND (NOT %(o)s OR w.state <> 'closed')
            ORDER BY w.level = 'red' DESC, w.code, w.xzqdm, w.id""",
                            {"p": period, "w": warning_id, "o": open_only}).fetchall()
    keys = ("id", "code", "name_zh", "xzqdm", "xzqmc", "period", "level", "rule", "value", "threshold", "target",
            "target_year", "unit", "state", "raised_at", "data_versions", "history")
    return [{**dict(zip(keys, row, strict=True)), "raised_at": row[14].isoformat()} for row in rows]
