"""The double evaluation through the running gateway: an async job with
progress, the class rasters as COGs read by GDAL (rasterio) through their
href, the class areas against an independent pyproj Geod computation, the
carrying capacity, the report, the audit line; a Dask LocalCluster of two
worker processes gives the same result as the local threads; bad input is
refused with a bilingual error naming the part and leaves no run behind."""

from __future__ import annotations

import base64
import csv
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
import requests
import shapely
import yaml
from distributed import Client, LocalCluster
from pyproj import Geod, Transformer
from rasterio.features import shapes

from onemap.core.settings import Settings
from processes.evaluation.compute import Zones, run_evaluation
from processes.evaluation.method import find_method
from processes.evaluation.service import to_grid
from tests.conftest import auth

ROOT = Path(__file__).resolve().parents[2]
PROCESS = "suitability-evaluation"
COUNTY = "430902"      # 资阳区
GEOD = Geod(ellps="GRS80")


def submit(ogc_url, token, inputs, process=PROCESS, **headers):
    return requests.post(f"{ogc_url}/processes/{process}/execution", json={"inputs": inputs},
                         headers={**auth(token), **headers}, timeout=600)


def wait_done(location, token, timeout=600):  # a hang guard, not a time limit
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(location, headers=auth(token), params={"f": "json"}, timeout=60).json()
        seen.append((job["status"], job.get("progress")))
        if job["status"] in ("successful", "failed"):
            return job, seen
        time.sleep(0.3)
    raise AssertionError(f"job did not finish: {seen[-5:]}")


def runs() -> set[str]:
    directory = Settings.from_env().evaluation_dir / "runs"
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


@pytest.fixture(scope="module")
def county_run(ogc_url, tokens):
    token = tokens["staff"]
    r = submit(ogc_url, token, {"xzqdm": COUNTY}, Prefer="respond-async")
    assert r.status_code == 201, r.text
    job, seen = wait_done(r.headers["Location"], token)
    assert job["status"] == "successful", job
    results = requests.get(f"{r.headers['Location']}/results", headers=auth(token), params={"f": "json"},
                           timeout=60)
    assert results.status_code == 200, results.text
    return results.json(), seen


def download(href: str, token: str, path: Path) -> Path:
    r = requests.get(href, headers=auth(token), timeout=120)
    assert r.status_code == 200, r.text[:300]
    path.write_bytes(r.content)
    return path


def test_async_run_reports_progress_and_records_the_method_version(county_run):
    body, seen = county_run
    assert any(status == "running" for status, _ in seen) or seen[-1][0] == "successful"
    summary = body["summary"]
    assert summary["method"]["version"] == "双评价-2020指南-示例-v1"
    assert summary["crs"] == "EPSG:4546" and summary["region"].endswith(f"（{COUNTY}）")
    for name in ("ecology", "agriculture", "construction"):
        assert body[name]["type"].startswith("image/tiff") and "/evaluation/runs/" in body[name]["href"]
    counties = {r["xzqdm"] for r in summary["areas"]["agriculture"]["county"]}
    assert counties == {COUNTY}
    township = summary["areas"]["agriculture"]["township"][0]
    assert township["xzqdm"].startswith(COUNTY)
    for c in township["classes"]:
        assert c["area_ha"] == pytest.approx(c["area_m2"] / 10_000, abs=1e-3)
        assert c["area_mu"] == pytest.approx(c["area_m2"] * 15 / 10_000, abs=0.01)


def test_the_class_raster_is_a_cog_that_gdal_reads_through_its_href(county_run, tokens, tmp_path):
    body, _ = county_run
    path = download(body["agriculture"]["href"], tokens["staff"], tmp_path / "agriculture.tif")
    info = json.loads(subprocess.run(["gdalinfo", "-json", str(path)], capture_output=True, text=True,
                                     check=True).stdout)
    assert info["metadata"]["IMAGE_STRUCTURE"].get("LAYOUT") == "COG"
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4546 and src.nodata == 0
        codes = set(np.unique(src.read(1)).tolist())
        assert {1, 3} <= codes <= {0, 1, 2, 3}
        assert src.colormap(1)[1][:3] == (0x38, 0xa8, 0x00)   # 适宜 green


def test_class_areas_equal_an_independent_geodesic_computation(county_run, tokens, tmp_path):
    """Polygonise the class raster, project its cells back to longitude and
    latitude, measure them on the GRS80 ellipsoid with pyproj's Geod."""
    body, _ = county_run
    path = download(body["construction"]["href"], tokens["staff"], tmp_path / "construction.tif")
    to_lonlat = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)
    measured: dict[int, float] = {}
    with rasterio.open(path) as src:
        codes = src.read(1)
        for geom, code in shapes(codes, mask=codes > 0, transform=src.transform):
            poly = shapely.geometry.shape(geom)
            lonlat = shapely.transform(shapely.segmentize(poly, src.res[0]),
                                       lambda c: np.column_stack(to_lonlat.transform(c[:, 0], c[:, 1])))
            measured[int(code)] = measured.get(int(code), 0.0) + abs(GEOD.geometry_area_perimeter(lonlat)[0])
    reported = {row["code"]: row["area_m2"] for row in body["summary"]["areas"]["construction"]["total"]}
    for code, area in measured.items():
        assert reported[code] == pytest.approx(area, rel=1e-4), code


def block_centre(codes: np.ndarray, wanted: set[int]) -> tuple[int, int]:
    """A cell whose 3 × 3 neighbourhood is all of the wanted classes: the
    polygons, simplified within half a cell, keep its centre where it is."""
    ok = np.isin(codes, list(wanted))
    rows, cols = codes.shape
    for row in range(1, rows - 1):
        for col in range(1, cols - 1):
            if ok[row - 1:row + 2, col - 1:col + 2].all():
                return row, col
    raise AssertionError(f"no 3 × 3 block of classes {wanted} in the run's raster")


def test_unsuitable_construction_cells_are_a_notice_of_the_compliance_check(county_run, ogc_url, tokens, tmp_path,
                                                                           db):
    """The run published 城镇建设不适宜区 (CZJSBSYQ): a 20 m square on a cell
    the COG says is 不适宜 gets the 提示 finding with its area; one on
    suitable cells passes that rule."""
    body, _ = county_run
    summary = body["summary"]
    assert {r[0] for r in db.execute("SELECT DISTINCT pjbh FROM supervision.czjsbsyq")} == {summary["run_id"]}
    unsuitable = summary["areas"]["construction"]["classes"].index("不适宜") + 1
    path = download(body["construction"]["href"], tokens["staff"], tmp_path / "construction.tif")
    with rasterio.open(path) as src:
        codes, transform = src.read(1), src.transform
    to_lonlat = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)
    findings = {}
    for case, wanted in (("unsuitable", {unsuitable}), ("suitable", set(range(1, unsuitable)))):
        row, col = block_centre(codes, wanted)
        x, y = transform @ (col + 0.5, row + 0.5)
        square = shapely.transform(shapely.box(x - 10, y - 10, x + 10, y + 10),
                                   lambda c: np.column_stack(to_lonlat.transform(c[:, 0], c[:, 1])))
        r = requests.post(f"{ogc_url}/processes/compliance-check/execution",
                          json={"inputs": {"boundary": shapely.geometry.mapping(square), "stage": "选址",
                                           "use_code": "1001", "case_id": f"I9-{case}"}},
                          headers=auth(tokens["staff"]), timeout=120)
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        findings[case] = next(f for f in result["findings"] if f["rule"] == "CZJSBSYQ-NOTICE")
        findings[case]["area"] = abs(GEOD.geometry_area_perimeter(square)[0])
    hit, clear = findings["unsuitable"], findings["suitable"]
    assert hit["verdict"] == "提示" and hit["count"] >= 1
    assert hit["overlap_m2"] == pytest.approx(hit["area"], rel=1e-3)
    assert hit["features"][0]["pjbh"] == summary["run_id"]
    assert clear["verdict"] == "通过" and clear["overlap_m2"] == 0 and clear["count"] == 0


def test_the_report_is_a_chinese_pdf_and_the_run_is_audited(county_run, tokens, tmp_path, db):
    body, _ = county_run
    path = download(body["report"]["href"], tokens["staff"], tmp_path / "report.pdf")
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "农业生产适宜性" in text and "承载规模" in text and body["summary"]["method"]["version"] in text
    run_id = body["summary"]["run_id"]
    row = db.execute("SELECT actor, status, output_sha256 FROM ops.audit WHERE target = %s",
                     (f"/processes/{PROCESS}/{run_id}",)).fetchone()
    assert row is not None and row[0] == "pytest-staff" and row[1] == 200 and row[2]


def test_downloads_need_the_role_and_the_callers_own_run(county_run, tokens, base_url):
    href = county_run[0]["summary"]["run_id"]
    url = f"{base_url}/evaluation/runs/{href}/summary.json"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers=auth(tokens["egov"]), timeout=30).status_code == 403
    assert requests.get(url, headers=auth(tokens["admin"]), timeout=30).status_code == 200
    assert requests.get(f"{base_url}/evaluation/runs/not-a-run/summary.json", headers=auth(tokens["staff"]),
                        timeout=30).status_code == 404


def test_carrying_capacity_is_the_smaller_of_land_and_water(ogc_url, tokens):
    r = submit(ogc_url, tokens["staff"], {"xzqdm": COUNTY}, process="carrying-capacity-evaluation")
    assert r.status_code == 200, r.text
    capacity = r.json()["carrying_capacity"]
    for item in capacity.values():
        assert item["scale_ha"] == pytest.approx(min(item["land_limit_ha"], item["water_limit_ha"]), abs=0.01)
        assert item["scale_mu"] == pytest.approx(item["scale_ha"] * 15, rel=1e-6)


@pytest.mark.parametrize(("inputs", "status", "field"), [
    ({"boundary": {"type": "Polygon", "coordinates": [[[100, 20], [100.1, 20], [100.1, 20.1], [100, 20]]]}},
     400, "boundary"),
    ({"xzqdm": "999999"}, 404, "xzqdm"),
    ({"method": "no-such-method"}, 404, "method"),
    ({"xzqdm": COUNTY, "resolution": 150}, 400, "resolution"),
])
def test_bad_input_is_refused_naming_the_part_and_leaves_no_run(ogc_url, tokens, inputs, status, field):
    before = runs()
    r = submit(ogc_url, tokens["staff"], inputs)
    assert r.status_code == status, r.text
    text = r.text
    assert field in text and any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert runs() == before


def test_anonymous_and_egov_may_not_run_it(ogc_url, tokens):
    assert submit(ogc_url, None, {"xzqdm": COUNTY}).status_code == 401
    assert submit(ogc_url, tokens["egov"], {"xzqdm": COUNTY}).status_code == 403


def test_a_distributed_cluster_gives_the_local_result(database_url, tmp_path):
    """Two worker processes (dask.distributed.LocalCluster) against the local
    threads, on one township: the same class rasters, the same areas."""
    with psycopg.connect(database_url) as conn:
        (wkb,) = conn.execute("SELECT ST_AsBinary(geom) FROM base.xzq WHERE xzqjb = '乡' ORDER BY mj DESC "
                              "LIMIT 1").fetchone()
    region, = to_grid([shapely.from_wkb(wkb)])
    zones = Zones(region, [region])
    factors = Settings.from_env().evaluation_dir / "factors"
    method = find_method(None)
    (tmp_path / "local").mkdir()
    (tmp_path / "cluster").mkdir()
    local = run_evaluation(method, factors, zones, None, tmp_path / "local", lambda *_: None)
    os.environ.pop("DASK_SCHEDULER_ADDRESS", None)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = run_evaluation(method, factors, zones, None, tmp_path / "cluster", lambda *_: None, client)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(local, remote)
    assert local.sum() > 0
    for name in ("ecology", "agriculture", "construction"):
        with rasterio.open(tmp_path / "local" / f"{name}.tif") as a, \
                rasterio.open(tmp_path / "cluster" / f"{name}.tif") as b:
            np.testing.assert_array_equal(a.read(1), b.read(1))


def test_risk_evaluation_gives_a_level_and_reasons_per_township(ogc_url, tokens, db):
    r = submit(ogc_url, tokens["staff"], {"xzqdm": COUNTY}, process="risk-evaluation")
    assert r.status_code == 200, r.text
    risk = r.json()["risk"]
    assert risk["method"]["version"] == "风险评估-示例-v1"
    townships = risk["townships"]
    codes = {row[0] for row in db.execute("SELECT xzqdm FROM base.xzq WHERE sjxzqdm = %s", (COUNTY,))}
    assert codes <= {t["xzqdm"] for t in townships}
    assert sum(risk["levels"].values()) == len(townships)
    assert risk["cropland_loss"]["base_year"] == db.execute("SELECT min(year) FROM supervision.dltb_change").fetchone()[0]
    for t in townships:
        worst = max(e["share"] for e in t["exposures"].values())
        expected = "高风险" if worst >= 0.15 else "中风险" if worst >= 0.05 else "低风险"
        if t["cropland_loss"]["above_threshold"] and expected == "低风险":
            expected = risk["cropland_loss"]["level"]
        assert t["level"] == expected, t
        assert len(t["reasons"]) == (sum(e["area_ha"] > 0 for e in t["exposures"].values())
                                     + t["cropland_loss"]["above_threshold"])
        for e in t["exposures"].values():
            assert e["area_ha"] <= t["construction_ha"] + 1e-6
    assert any(t["reasons"] for t in townships)


def crosswalk() -> dict[str, str]:
    """Survey code -> planning code, read from the table itself."""
    path = ROOT / "config" / "standards" / "survey-to-landuse.csv"
    with path.open(encoding="utf-8") as f:
        return {row["survey_code"]: row["landuse_code"] for row in csv.DictReader(f)}


def test_cropland_lost_to_construction_per_township_equals_the_change_table(ogc_url, tokens, db):
    """Cropland loss since 2019 in 南县 (430923) against an independent
    reading: the changed parcels' first later class and current class
    through the crosswalk CSV, their parts in each township measured with
    pyproj's Geod; a township above the method's threshold has the reason."""
    county, base = "430923", 2019
    r = submit(ogc_url, tokens["staff"], {"xzqdm": county, "base_year": base}, process="risk-evaluation")
    assert r.status_code == 200, r.text
    risk = r.json()["risk"]
    assert risk["cropland_loss"]["base_year"] == base
    assert risk["cropland_loss"]["to_year"] == db.execute("SELECT max(year) FROM supervision.dltb_change").fetchone()[0]
    walk = crosswalk()
    method = yaml.safe_load((ROOT / "config" / "evaluation" / "risk.yaml").read_text(encoding="utf-8"))
    construction, cropland = tuple(method["construction_codes"]), tuple(method["cropland_loss"]["cropland_codes"])
    towns = {code: shapely.from_wkb(wkb) for code, wkb in db.execute(
        "SELECT xzqdm, ST_AsBinary(geom) FROM base.xzq WHERE xzqjb = '乡' AND sjxzqdm = %s", (county,))}
    expected = dict.fromkeys(towns, 0.0)
    for before, now, wkb in db.execute("""
            SELECT DISTINCT ON (d.id) c.dlbm_before, d.dlbm, ST_AsBinary(d.geom)
            FROM supervision.dltb_change c JOIN base.dltb d ON d.id = c.dltb_id
            WHERE c.year > %s ORDER BY d.id, c.year""", (base,)):
        if walk[before].startswith(cropland) and walk[now].startswith(construction):
            parcel = shapely.from_wkb(wkb)
            for code, town in towns.items():
                part = shapely.intersection(parcel, town)
                if not part.is_empty:
                    expected[code] += abs(GEOD.geometry_area_perimeter(part)[0])
    got = {t["xzqdm"]: t for t in risk["townships"]}
    assert any(expected.values()), "the demo city lost no cropland in the county"
    threshold = risk["cropland_loss"]["threshold_ha"]
    for code, m2 in expected.items():
        loss = got[code]["cropland_loss"]
        assert loss["area_m2"] == pytest.approx(m2, rel=1e-3, abs=0.01), code
        assert loss["area_mu"] == pytest.approx(loss["area_m2"] * 15 / 10_000, rel=1e-4, abs=0.01)
        reasons = [reason for reason in got[code]["reasons"] if reason.startswith(loss["title"])]
        assert bool(reasons) == (m2 / 10_000 > threshold) == loss["above_threshold"], code
    assert any(t["cropland_loss"]["above_threshold"] for t in got.values())
    assert risk["cropland_loss"]["area_m2"] == pytest.approx(sum(expected.values()), rel=1e-3)
    report = r.json()["report"]
    pdf = base64.b64decode(report["value"])
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "开发保护风险评估报告" in text and "耕地转为建设用地" in text and f"{base} 年至" in text


@pytest.mark.parametrize("year", ["2090", "二〇二〇"])
def test_a_base_year_outside_the_changes_is_refused_naming_it(ogc_url, tokens, year):
    r = submit(ogc_url, tokens["staff"], {"xzqdm": COUNTY, "base_year": year}, process="risk-evaluation")
    assert r.status_code == 400 and "base_year" in r.text, r.text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.text)
