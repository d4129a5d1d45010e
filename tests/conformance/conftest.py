"""The conformance tier: every class the stack declares at /ogc/conformance,
and every OGC service it runs, exercised by a client that is not ours.

A test claims what it proves with `@pytest.mark.conformance(*classes,
client="...")`; test_declared_classes.py fails when a declared class has no
claim, and at the end of a run that included it this file writes
docs/conformance.md (class → client → test → result) from what ran."""

from __future__ import annotations

from collections import defaultdict

import pytest

from onemap.core.settings import ROOT

REPORT = ROOT / "docs" / "conformance.md"
# The OGC services beside OGC API, claimed like the classes.
SERVICES = ("CSW 2.0.2", "CSW 3.0", "WMS 1.3.0", "WMTS 1.0.0", "OAI-PMH 2.0")
COVERAGE_TEST = "test_every_declared_class_and_service_is_claimed"

_outcomes: dict[str, str] = {}


def claims(items) -> dict[str, list[tuple[str, str]]]:
    """class or service -> [(client, test id)] of the collected tests."""
    claimed: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item in items:
        for marker in item.iter_markers("conformance"):
            for cls in marker.args:
                claimed[cls].append((marker.kwargs["client"], item.nodeid))
    return claimed


def pytest_runtest_logreport(report) -> None:
    if report.when == "call" or report.outcome != "passed":
        _outcomes[report.nodeid] = report.outcome  # a failed or skipped setup is the result too


def pytest_sessionfinish(session) -> None:
    ran_check = any(nodeid.endswith(COVERAGE_TEST) for nodeid in _outcomes)
    if not ran_check:  # a partial run (one file, -k) must not rewrite the evidence
        return
    declared = session.config.stash.get(DECLARED, [])
    claimed = claims(session.items)
    lines = [
        "# 符合性证据 / Conformance evidence",
        "",
        "由符合性测试层（tests/conformance）在最近一次运行后自动生成，请勿手工编辑。",
        "Written by the conformance tier (tests/conformance) at the end of its last run; do not edit by hand.",
        "Each class that `/ogc/conformance` declares, and each OGC service beside OGC API, with the",
        "independent client that exercised it, the test, and the test's result in that run.",
        "",
        "| 符合性类 / class or service | 客户端 / client | 测试 / test | 结果 / result |",
        "|---|---|---|---|",
    ]
    for cls in [*declared, *SERVICES]:
        tests: dict[tuple[str, str], list[str]] = defaultdict(list)  # parametrized cases together
        for client, nodeid in claimed.get(cls, []):
            tests[client, nodeid.split("[")[0]].append(_outcomes.get(nodeid, "not run"))
        if not tests:
            lines.append(f"| `{cls}` | — | — | **unclaimed** |")
        for (client, test), results in tests.items():
            summary = ", ".join(f"{results.count(r)} {r}" for r in sorted(set(results)))
            lines.append(f"| `{cls}` | {client} | `{test}` | {summary} |")
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


DECLARED = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def declared_classes(request, http, ogc_url) -> list[str]:
    """/ogc/conformance as the running stack declares it."""
    r = http.get(f"{ogc_url}/conformance", params={"f": "json"}, timeout=30)
    r.raise_for_status()
    declared = sorted(r.json()["conformsTo"])
    request.config.stash[DECLARED] = declared
    return declared
