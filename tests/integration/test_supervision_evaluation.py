"""定期评估: `onemap supervise run` (monitoring, warnings, evaluation in one
go) and the implementation-evaluation process: every indicator of the
system with the city's stored value and its level, and a PDF report."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from onemap.core.settings import ROOT, load_yaml
from processes.supervision import catalogue
from tests.conftest import auth

LEVEL_TITLES = {"green": "绿色（正常）", "yellow": "黄色（预警）", "red": "红色（超限）"}


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
    assert [m["code"] for m in evaluation["maps"]] == list({s.id: s for s in catalogue.load_systems()}["checkup"].maps)
    check_township_maps(db, evaluation["maps"], pdf.content, tmp_path)
    unknown = http.post(f"{ogc_url}/processes/implementation-evaluation/execution",
                        json={"inputs": {"year": 2025, "system": "nope"}}, headers=auth(tokens["staff"]), timeout=60)
    assert unknown.status_code == 404 and "指标体系" in unknown.text


def check_township_maps(db, frames: list[dict], pdf: bytes, tmp_path) -> None:
    """The report holds a map image per mapped indicator (pdfimages) with the
    Chinese legend (pdftotext), and a township's colour on the map is the
    fill of its level in the ZBJC style (its opacity over the white ground)."""
    (tmp_path / "report.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "分乡镇专题图" in text and all(title in text for title in LEVEL_TITLES.values())
    subprocess.run(["pdfimages", "-png", str(tmp_path / "report.pdf"), str(tmp_path / "img")], check=True)
    maps = [Image.open(f).convert("RGB") for f in sorted(tmp_path.glob("img-*.png"))
            if Image.open(f).size == (frames[0]["width"], frames[0]["height"]) and Image.open(f).mode == "RGB"]
    assert len(maps) == len(frames) >= 1
    style = {r["title"]["zh"]: r["symbol"] for r in load_yaml(ROOT / "styles" / "indicator-level.yaml")["rules"]}
    frame, image = frames[0], maps[0]
    minx, miny, maxx, maxy = frame["bbox"]
    seen = set()
    # a township of each level: the centre of its largest inscribed circle, far from its white outline
    for level, x, y in db.execute(
            "SELECT DISTINCT ON (v.level) v.level, ST_X(c), ST_Y(c) FROM supervision.indicator_value v "
            "JOIN base.xzq u USING (xzqdm), ST_Transform((ST_MaximumInscribedCircle(u.geom)).center, 3857) c "
            "WHERE v.code = %s AND v.period = 2025 AND u.xzqjb = '乡' AND v.level IS NOT NULL "
            "ORDER BY v.level, v.xzqdm", (frame["code"],)):
        symbol = style[LEVEL_TITLES[level]]
        fill = [int(symbol["fill"][i:i + 2], 16) for i in (1, 3, 5)]
        expected = [a * symbol["fill_opacity"] + 255 * (1 - symbol["fill_opacity"]) for a in fill]
        pixel = image.getpixel((int((x - minx) / (maxx - minx) * frame["width"]),
                                int((maxy - y) / (maxy - miny) * frame["height"])))
        assert list(pixel) == pytest.approx(expected, abs=4), (level, pixel)
        seen.add(level)
    assert {"green", "red"} <= seen
