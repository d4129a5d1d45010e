"""Warnings (监测预警) through OGC API Processes with a staff token: levels
as the rules say (checked here from the values and targets), the same state
not raised twice, a threshold crossing raising the right warning and
calling the subscriber back, handling with a comment, audited."""

from __future__ import annotations

import pytest

from onemap.core.settings import config_dir, load_yaml
from tests.conftest import auth
from tests.integration.test_compliance_jobs import wait_done
from tests.receiver import Receiver


def execute(http, ogc_url, token, process, inputs):
    return http.post(f"{ogc_url}/processes/{process}/execution", json={"inputs": inputs},
                     headers=auth(token), timeout=600)


def expected_level(value: float, target: float, direction: str, margin_pct: float) -> str:
    if direction == "higher":
        return "red" if value < target else "yellow" if value < target * (1 + margin_pct / 100) else "green"
    return "red" if value > target else "yellow" if value > target * (1 - margin_pct / 100) else "green"


@pytest.fixture(scope="module")
def year_2025(http, ogc_url, tokens):
    r = execute(http, ogc_url, tokens["staff"], "indicator-compute", {"year": 2025, "indicators": ["ZB04", "ZB05"]})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def first_run(http, ogc_url, tokens, year_2025):
    r = execute(http, ogc_url, tokens["staff"], "indicator-warning", {"year": 2025, "indicators": ["ZB04", "ZB05"]})
    assert r.status_code == 200, r.text
    return r.json()


def moving_toward_target(db, code: str, xzqdm: str, direction: str, periods: int) -> bool:
    """The trend rule read from the stored series: every one of the last
    `periods` years moved toward missing the target."""
    series = dict(db.execute("SELECT period, value FROM supervision.indicator_value WHERE code = %s AND xzqdm = %s "
                             "AND period BETWEEN %s AND 2025", (code, xzqdm, 2025 - periods)).fetchall())
    values = [series.get(year) for year in range(2025 - periods, 2026)]
    sign = 1 if direction == "higher" else -1
    return None not in values and all(sign * (b - a) < 0 for a, b in zip(values, values[1:], strict=False))


def test_levels_follow_values_and_targets(db, first_run):
    rules = load_yaml(config_dir() / "indicators" / "warnings.yaml")
    margin = rules["rules"][rules["by_type"]["约束性"]]["yellow_margin_pct"]
    trend = rules["rules"]["approaching-target"]  # ZB04 and ZB05 also name the trend rule
    expected = {}
    for code, xzqdm, value, target, direction in db.execute(
            "SELECT v.code, v.xzqdm, v.value, t.value, i.direction FROM supervision.indicator_value v "
            "JOIN supervision.indicator i USING (code) JOIN supervision.indicator_target t "
            "ON t.code = v.code AND t.xzqdm = v.xzqdm AND t.target_year = 2025 "
            "WHERE v.period = 2025 AND v.code IN ('ZB04', 'ZB05')").fetchall():
        level = expected_level(value, target, direction, margin)
        if level == "green" and moving_toward_target(db, code, xzqdm, direction, trend["periods"]):
            level = trend["level"]
        if level != "green":
            expected[code, xzqdm] = level
    stored = {(c, x): lv for c, x, lv in db.execute(
        "SELECT code, xzqdm, level FROM supervision.warning WHERE period = 2025 AND state <> 'closed' "
        "AND code IN ('ZB04', 'ZB05')")}
    assert stored == expected
    assert {"red", "yellow"} <= set(expected.values())  # the demo data give both, by computation
    # what a warning records (raised by this run or by an earlier one of the session)
    value, threshold, target, rule, versions = db.execute(
        "SELECT value, threshold, target, rule, data_versions FROM supervision.warning WHERE period = 2025 "
        "AND code = 'ZB04' AND level = 'red' AND state <> 'closed' ORDER BY id LIMIT 1").fetchone()
    assert rule == "binding-target" and threshold == target and value < target
    assert versions["DLTB"]["year"] == 2025


def test_the_same_state_is_not_raised_twice(http, ogc_url, tokens, db, first_run):
    before = db.execute("SELECT count(*) FROM supervision.warning WHERE period = 2025").fetchone()[0]
    again = execute(http, ogc_url, tokens["staff"], "indicator-warning", {"year": 2025, "indicators": ["ZB04", "ZB05"]})
    assert again.status_code == 200 and again.json()["warnings"]["raised"] == []
    assert db.execute("SELECT count(*) FROM supervision.warning WHERE period = 2025").fetchone()[0] == before


def test_a_threshold_crossing_raises_one_red_warning_and_calls_back(http, ogc_url, tokens, db, first_run):
    # a green township: its allocation raised above its value (a stricter target handed down)
    rules = load_yaml(config_dir() / "indicators" / "warnings.yaml")
    margin = rules["rules"][rules["by_type"]["约束性"]]["yellow_margin_pct"]
    xzqdm, value, target = db.execute(
        "SELECT v.xzqdm, v.value, t.value FROM supervision.indicator_value v JOIN base.xzq u USING (xzqdm) "
        "JOIN supervision.indicator_target t ON t.code = v.code AND t.xzqdm = v.xzqdm AND t.target_year = 2025 "
        "WHERE v.code = 'ZB04' AND v.period = 2025 AND u.xzqjb = '乡' AND v.value >= t.value * (1 + %s / 100.0) "
        "ORDER BY v.xzqdm LIMIT 1", (margin,)).fetchone()
    db.execute("UPDATE supervision.indicator_target SET value = %s WHERE code = 'ZB04' AND xzqdm = %s "
               "AND target_year = 2025", (value * 1.001, xzqdm))
    receiver = Receiver()
    try:
        body = {"inputs": {"year": 2025, "indicators": ["ZB04"]},
                "subscriber": {"successUri": f"{receiver.url}/success"}}
        r = http.post(f"{ogc_url}/processes/indicator-warning/execution", json=body,
                      headers={**auth(tokens["staff"]), "Prefer": "respond-async"}, timeout=60)
        assert r.status_code == 201, r.text
        job, _ = wait_done(http, r.headers["Location"], tokens["staff"])
        assert job["status"] == "successful", job
        pushed = receiver.wait("/success")
        raised = pushed["warnings"]["raised"]
        assert [(w["xzqdm"], w["level"]) for w in raised] == [(xzqdm, "red")]
        assert raised[0]["threshold"] == pytest.approx(value * 1.001)
        again = execute(http, ogc_url, tokens["staff"], "indicator-warning", {"year": 2025, "indicators": ["ZB04"]})
        assert again.json()["warnings"]["raised"] == []
    finally:
        receiver.server.shutdown()
        db.execute("UPDATE supervision.indicator_target SET value = %s WHERE code = 'ZB04' AND xzqdm = %s "
                   "AND target_year = 2025", (target, xzqdm))


def test_staff_acknowledge_and_close_with_a_comment(http, ogc_url, tokens, db, first_run):
    wid = db.execute("SELECT id FROM supervision.warning WHERE state = 'open' ORDER BY id LIMIT 1").fetchone()[0]
    missing = execute(http, ogc_url, tokens["staff"], "indicator-warning-handle",
                      {"warning_id": wid, "action": "acknowledge", "comment": " "})
    assert missing.status_code == 400 and "处理意见" in missing.text
    for action, state in (("acknowledge", "acknowledged"), ("close", "closed")):
        r = execute(http, ogc_url, tokens["staff"], "indicator-warning-handle",
                    {"warning_id": wid, "action": action, "comment": f"{action}：已核实"})
        assert r.status_code == 200, r.text
        assert db.execute("SELECT state FROM supervision.warning WHERE id = %s", (wid,)).fetchone()[0] == state
    closed = execute(http, ogc_url, tokens["staff"], "indicator-warning-handle",
                     {"warning_id": wid, "action": "close", "comment": "again"})
    assert closed.status_code == 409
    actions = [a for a, in db.execute("SELECT action FROM ops.audit WHERE target = %s ORDER BY id",
                                      (f"supervision.warning/{wid}",))]
    assert actions == ["indicators.warning.acknowledge", "indicators.warning.close"]


def test_anonymous_callers_cannot_run_warnings(http, ogc_url):
    r = http.post(f"{ogc_url}/processes/indicator-warning/execution", json={"inputs": {"year": 2025}}, timeout=60)
    assert r.status_code in (401, 403)
