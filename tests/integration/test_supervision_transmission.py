"""指标传导: the allocation tree of an indicator, city → counties →
townships, through OGC API Processes; an allocation broken here (one
township's share cut) is found at its county and nowhere else."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import auth


def transmit(http, ogc_url, token, **outputs):
    body = {"inputs": {"indicator": "ZB04", "target_year": 2025}}
    if outputs:
        body["outputs"] = outputs
    return http.post(f"{ogc_url}/processes/indicator-transmission/execution", json=body, headers=auth(token),
                     timeout=600)


def nodes(tree):
    for node in tree:
        yield node
        yield from nodes(node["children"])


@pytest.fixture(scope="module")
def computed(http, ogc_url, tokens):
    r = http.post(f"{ogc_url}/processes/indicator-compute/execution",
                  json={"inputs": {"year": 2025, "indicators": ["ZB04"]}}, headers=auth(tokens["staff"]), timeout=600)
    assert r.status_code == 200, r.text


def test_each_unit_is_checked_against_its_allocation(http, ogc_url, tokens, db, computed):
    r = transmit(http, ogc_url, tokens["staff"])
    assert r.status_code == 200, r.text
    tree = r.json()["tree"]
    by_code = {n["xzqdm"]: n for n in nodes(tree["tree"])}
    assert len(by_code) == db.execute("SELECT count(*) FROM base.xzq").fetchone()[0]
    for xzqdm, value, target in db.execute(
            "SELECT v.xzqdm, v.value, t.value FROM supervision.indicator_value v JOIN supervision.indicator_target t "
            "USING (code, xzqdm) WHERE v.code = 'ZB04' AND v.period = 2025 AND t.target_year = 2025"):
        assert by_code[xzqdm]["value_ok"] == (value >= target * (1 - 1e-9)), xzqdm
    # the demo's land-use changes leave some townships below their allocation
    assert tree["violations"] >= 1 and tree["status"] == "不合格"


def test_a_broken_allocation_is_found_at_its_county(http, ogc_url, tokens, db, computed):
    before = {n["xzqdm"]: n["allocation_ok"] for n in nodes(transmit(http, ogc_url, tokens["staff"]).json()["tree"]["tree"])}
    township, county, share = db.execute(
        "SELECT t.xzqdm, u.sjxzqdm, t.value FROM supervision.indicator_target t JOIN base.xzq u USING (xzqdm) "
        "WHERE t.code = 'ZB04' AND t.target_year = 2025 AND u.xzqjb = '乡' AND t.value > 0 "
        "ORDER BY t.xzqdm LIMIT 1").fetchone()
    db.execute("UPDATE supervision.indicator_target SET value = %s WHERE code = 'ZB04' AND xzqdm = %s "
               "AND target_year = 2025", (share * 0.5, township))
    try:
        after = {n["xzqdm"]: n for n in nodes(transmit(http, ogc_url, tokens["staff"]).json()["tree"]["tree"])}
    finally:
        db.execute("UPDATE supervision.indicator_target SET value = %s WHERE code = 'ZB04' AND xzqdm = %s "
                   "AND target_year = 2025", (share, township))
    assert before[county] is True and after[county]["allocation_ok"] is False
    assert after[county]["status"]["zh"] == "不合格"
    assert after[county]["children_sum"] == pytest.approx(after[county]["target"] - share * 0.5)
    changed = {x for x, n in after.items() if n["allocation_ok"] != before[x]}
    assert changed == {county}


def test_the_report_is_a_chinese_pdf(http, ogc_url, tokens, computed):
    r = transmit(http, ogc_url, tokens["staff"], report={})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/pdf")
    assert r.content.startswith(b"%PDF")
    both = transmit(http, ogc_url, tokens["staff"], tree={}, report={}).json()
    assert base64.b64decode(both["report"]["value"])[:4] == b"%PDF"
