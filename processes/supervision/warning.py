"""预警 warnings: the rules of config/indicators/warnings.yaml applied to the
stored values of a year. A rule kind is implemented once here; its
parameters are data. A warning records value, threshold, target, rule,
unit, period and the data versions of the value; the same state (indicator,
unit, period, level) is not raised again while it is open or acknowledged,
and a changed level closes the earlier warning.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import invalid
from onemap.core.settings import load_yaml
from processes.supervision.catalogue import indicators_dir

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


def assess(conn: psycopg.Connection, period: int, codes: list[str] | None = None) -> list[Assessment]:
    """Every stored value of the year that has a target at or after it (the
    nearest target year), with its level."""
    rules = load_rules()
    rows = conn.execute("""
        SELECT DISTINCT ON (v.code, v.xzqdm) v.code, v.xzqdm, v.value, v.data_versions, i.type, i.direction,
               i.item->>'warning', t.value, t.target_year
        FROM supervision.indicator_value v JOIN supervision.indicator i USING (code)
        JOIN supervision.indicator_target t ON t.code = v.code AND t.xzqdm = v.xzqdm AND t.target_year >= v.period
        WHERE v.period = %(p)s AND i.direction <> 'range' AND (%(c)s::text[] IS NULL OR v.code = ANY(%(c)s))
        ORDER BY v.code, v.xzqdm, t.target_year""", {"p": period, "c": codes}).fetchall()
    out = []
    for code, xzqdm, value, versions, type_, direction, own_rule, target, target_year in rows:
        rule_id = own_rule or rules["by_type"][type_]
        rule = rules["rules"][rule_id]
        if rule["kind"] != "target":
            raise invalid("rule", f"预警规则 {rule_id} 的类型 {rule['kind']} 未实现",
                          f"Warning rule {rule_id} is of unknown kind {rule['kind']}", 500)
        level, threshold = target_level(value, target, direction, float(rule["yellow_margin_pct"]))
        out.append(Assessment(code, xzqdm, period, level, rule_id, value, threshold, target, target_year, versions))
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
        levels = {level: sum(1 for a in assessments if a.level == level) for level in ("green", "yellow", "red")}
        audit.record(conn, principal, "indicators.warning", f"supervision.warning/{period}", 200,
                     detail={"period": period, "raised": [w["id"] for w in raised], "levels": levels})
    return {"period": period, "levels": levels, "raised": raised,
            "unchanged": sum(1 for a in assessments if a.level != "green") - len(raised)}


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
