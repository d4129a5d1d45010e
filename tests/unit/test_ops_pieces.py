"""The operations pieces that need nothing running: request ids, the JSON
log file with its rotation and its query, the process time limit."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest

from onemap.core import logs
from onemap.core.ratelimit import RateLimit
from onemap.ogc.jobs import ProcessTimeout, problem_of, run_with_limit


def test_a_valid_request_id_is_kept_and_others_replaced():
    assert logs.request_id_from("abc-123.DEF:9_x") == "abc-123.DEF:9_x"
    for bad in (None, "", "short", "has space in it", "x" * 129, 'quote"inside1'):
        new = logs.request_id_from(bad)
        assert new != bad and len(new) == 32


@pytest.fixture
def log_file(tmp_path):
    root = logging.getLogger()
    before = list(root.handlers)
    path = logs.configure("unit", tmp_path, {"file_max_mb": 0.001, "backups": 2, "level": "INFO"})
    yield path
    for handler in root.handlers:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()


def test_lines_are_json_with_the_context_and_rotate_by_size(log_file):
    token = logs.REQUEST_ID.set("req-00000001")
    try:
        logging.getLogger("unit").warning("第一行 first", extra={"status": 404, "path": "/x"})
    finally:
        logs.REQUEST_ID.reset(token)
    line = json.loads(log_file.read_text(encoding="utf-8").splitlines()[0])
    assert line["message"] == "第一行 first" and line["level"] == "WARNING" and line["component"] == "unit"
    assert line["request_id"] == "req-00000001" and line["status"] == 404 and line["path"] == "/x"
    assert dt.datetime.fromisoformat(line["time"]).tzinfo is not None
    for i in range(200):  # ~1 KiB files: rotated, at most 2 kept
        logging.getLogger("unit").info("line %d %s", i, "x" * 40)
    rotated = sorted(p.name for p in log_file.parent.glob("onemap.log.*"))
    assert rotated == ["onemap.log.1", "onemap.log.2"]


def test_pygeoapis_warning_on_a_missing_offset_is_not_logged(log_file):
    # pygeoapi logs int(None)'s TypeError on every items request without offset
    try:
        int(None)  # type: ignore[arg-type]
    except TypeError as err:
        logging.getLogger("pygeoapi.api.itemtypes").warning(err)
    logging.getLogger("pygeoapi.api.itemtypes").warning("a warning of its own")
    logging.getLogger("unit").warning(TypeError("not pygeoapi's"))
    lines = [json.loads(line)["message"] for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert lines == ["a warning of its own", "not pygeoapi's"]


def test_the_query_reads_newest_first_across_rotated_files(log_file):
    for i in range(12):  # ~2 KiB: over the current file and the rotated one
        logging.getLogger("unit").log(logging.ERROR if i % 3 == 0 else logging.INFO, "n=%d %s", i, "y" * 30)
    assert list(log_file.parent.glob("onemap.log.1"))
    errors = logs.recent_lines(log_file.parent, logs.LogQuery(level="ERROR", limit=3))
    assert [line["message"].split()[0] for line in errors] == ["n=9", "n=6", "n=3"]
    assert logs.recent_lines(log_file.parent, logs.LogQuery(component="other")) == []
    assert len(logs.recent_lines(log_file.parent, logs.LogQuery(component="unit", limit=4))) == 4
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert logs.recent_lines(log_file.parent, logs.LogQuery(since=future)) == []


def test_a_run_over_its_time_limit_is_stopped():
    steps = []

    def endless() -> None:
        while True:
            steps.append(1)
            time.sleep(0.01)

    with pytest.raises(ProcessTimeout):
        run_with_limit(endless, 0.05)
    stopped_at = len(steps)
    time.sleep(0.1)
    assert len(steps) == stopped_at  # it does not go on
    problem = problem_of(ProcessTimeout(), 0.05)
    assert problem.zh.startswith("处理超时") and "0.05 s" in problem.en


def test_a_run_within_its_time_limit_is_untouched():
    assert run_with_limit(lambda: 42, 60) == 42
    assert run_with_limit(lambda: 43, None) == 43


def test_the_rate_limit_comes_from_the_configuration():
    assert RateLimit.from_config({"anonymous_rate": {"per_second": 2.5, "burst": 10}}) == RateLimit(2.5, 10)
