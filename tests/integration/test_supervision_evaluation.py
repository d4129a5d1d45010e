"""定期评估: `onemap supervise run` (monitoring, warnings, evaluation in one
go) and the implementation-evaluation process: every indicator of the
system with the city's stored value and its level, and a PDF report."""

from __future__ import annotations

import subprocess
import sys

from processes.supervision import catalogue
from tests.conftest import auth


def test_supervise_run_then_the_evaluation_process(http, ogc_url, tokens, db, database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "onemap.cli", "supervise", "run", "--year", "2025",
                          "--out", str(tmp_path)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    for system in catalogue.load_systems():
        assert (tmp_path / f"evaluation-{system.id}-2025.pdf").read_bytes().startswith(b"%PDF")
    assert db.execute("SELECT count(*) FROM supervision.warning WHERE period = 2025 AND level = 'red'").fetchone()[0] >= 1

    r = http.post(f"{ogc_url}/processes/implementation-evaluation/execution",
                  json={"inputs": {"year": 2025, "system": "checkup"}, "outputs": {"evaluation": {}}},
                  headers=auth(tokens["staff"]), timeout=600)
    assert r.status_code == 200, r.text
    evaluation = r.json()
    members = [c for codes in {s.id: s for s in catalogue.load_systems()}["checkup"].groups.values() for c in codes]
    assert [i["code"] for i in evaluation["indicators"]] == members
    cropland = next(i for i in evaluation["indicators"] if i["code"] == "ZB04")
    stored = db.execute("SELECT value FROM supervision.indicator_value WHERE code = 'ZB04' AND period = 2025 "
                        "AND xzqdm = %s", (evaluation["unit"]["xzqdm"],)).fetchone()[0]
    target = db.execute("SELECT value FROM supervision.indicator_target WHERE code = 'ZB04' AND target_year = 2025 "
                        "AND xzqdm = %s", (evaluation["unit"]["xzqdm"],)).fetchone()[0]
    assert cropland["value"] == stored and cropland["target"] == target
    margin = 1.0  # config/indicators/warnings.yaml: binding-target
    assert cropland["level"] == ("red" if stored < target else "yellow" if stored < target * (1 + margin / 100)
                                 else "green")

    pdf = http.post(f"{ogc_url}/processes/implementation-evaluation/execution",
                    json={"inputs": {"year": 2025}, "outputs": {"report": {}}},
                    headers=auth(tokens["staff"]), timeout=600)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    unknown = http.post(f"{ogc_url}/processes/implementation-evaluation/execution",
                        json={"inputs": {"year": 2025, "system": "nope"}}, headers=auth(tokens["staff"]), timeout=60)
    assert unknown.status_code == 404 and "指标体系" in unknown.text
