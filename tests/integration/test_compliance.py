"""compliance-check through the gateway: known answers built from the demo
data in the database, formats, bad input, history, reports, access."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pyproj
import pytest
import shapely
from shapely.geometry import box, mapping, shape
from shapely.geometry.polygon import orient

from onemap.core.inforce import in_force
from processes.compliance.check import canonical_sha256, load_config
from tests.conftest import auth

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

GEOD = pyproj.Geod(ellps="GRS80")  # the CGCS2000 ellipsoid
TO_4525 = pyproj.Transformer.from_crs(4490, 4525, always_xy=True)


def geodesic_area(geom) -> float:
    """Ellipsoidal area by pyproj's geodesics, independent of PostGIS
    (parts oriented counter-clockwise so holes subtract)."""
    return sum(GEOD.geometry_area_perimeter(orient(p, 1.0))[0] for p in getattr(geom, "geoms", [geom]))


def execute(http, ogc_url, token, inputs, outputs=None, headers=None, **extra):
    body = {"inputs": inputs, **({"outputs": outputs} if outputs else {}), **extra}
    return http.post(f"{ogc_url}/processes/compliance-check/execution", json=body,
                     headers={**auth(token), **(headers or {})}, timeout=120)


def counts(db) -> dict[str, int]:
    """Rows a check writes (the gateway's own request audit aside)."""
    return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in (
        "supervision.compliance_check", "supervision.compliance_overlap", "supervision.compliance_report",
        "jobs.jobs")} | {"audit EXECUTE": db.execute(
            "SELECT count(*) FROM ops.audit WHERE action = 'EXECUTE'").fetchone()[0]}


def finding(result, rule):
    return next(f for f in result["findings"] if f["rule"] == rule)


@pytest.fixture(scope="module")
def red_line_case(db):
    """A 400 m square centred on the edge of the red line (the dissolved
    red-line features in force, inside the city), and the red line inside it."""
    red = shapely.from_wkt(db.execute(f"SELECT ST_AsText(ST_Union(geom)) FROM plan.stbhhx WHERE {in_force()}").fetchone()[0])
    city = shapely.from_wkt(db.execute("SELECT ST_AsText(geom) FROM base.xzq WHERE xzqjb = '市'").fetchone()[0])
    parts = sorted(getattr(red, "geoms", [red]), key=lambda p: -p.area)
    for part in parts[:5]:
        ring = part.exterior
        for i in range(0, 20):
            point = ring.interpolate(i / 20, normalized=True)
            square = box(point.x - 0.002, point.y - 0.002, point.x + 0.002, point.y + 0.002)
            overlap = square.intersection(red)
            if city.contains(square) and 0.2 < overlap.area / square.area < 0.8:
                return square, overlap
    raise AssertionError("no place where a square straddles the red line inside the city")


def site(db, codes: tuple[str, ...], clear: bool) -> tuple[shapely.Geometry, str, str]:
    """A 60 m square inside one planned-use cell (code starting with one of
    `codes`) inside the urban development boundary; with `clear`, away from
    every other layer a rule of 用地预审 looks at."""
    others = """
        AND NOT EXISTS (SELECT 1 FROM plan.stbhhx x WHERE ST_Intersects(x.geom, s.sq))
        AND NOT EXISTS (SELECT 1 FROM plan.yjjbnt x WHERE ST_Intersects(x.geom, s.sq))
        AND NOT EXISTS (SELECT 1 FROM plan.lswhbhx x WHERE ST_Intersects(x.geom, s.sq))
        AND NOT EXISTS (SELECT 1 FROM base.dltb x WHERE ST_Intersects(x.geom, s.sq) AND x.dlbm LIKE '01%%')
        AND NOT EXISTS (SELECT 1 FROM base.dzzhd x WHERE ST_DWithin(x.geom::geography, s.sq::geography, 250))
        AND NOT EXISTS (SELECT 1 FROM supervision.czjsbsyq x WHERE ST_Intersects(x.geom, s.sq))
    """ if clear else ""
    row = db.execute(f"""
        SELECT ST_AsText(s.sq), s.ydyhdm, s.bsm FROM (
            SELECT g.ydyhdm, g.bsm, g.geom, ST_Expand(ST_PointOnSurface(g.geom), 0.0003) AS sq
            FROM plan.ghydyh g
            WHERE {in_force(alias='g')} AND left(g.ydyhdm, 2) = ANY(%s)
              AND EXISTS (SELECT 1 FROM plan.czkfbj z WHERE ST_CoveredBy(g.geom, z.geom) AND {in_force(alias='z')})
            ORDER BY g.id LIMIT 500) s
        WHERE ST_CoveredBy(s.sq, s.geom) {others}
        LIMIT 1""", (list(codes),)).fetchone()
    assert row, f"no planned {codes} cell inside the urban development boundary in the demo city"
    return shapely.from_wkt(row[0]), row[1], row[2]


# --- known answers -----------------------------------------------------------

def test_red_line_overlap_matches_geodesic_area(http, ogc_url, tokens, red_line_case):
    square, overlap = red_line_case
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "用地预审",
                                                 "use_code": "1001", "case_id": "KA-RED"})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    red = finding(result, "STBHHX-OCCUPY")
    expected = geodesic_area(overlap)
    assert red["verdict"] == "禁止" and result["verdict"] == "禁止"
    assert red["overlap_m2"] == pytest.approx(expected, rel=1e-3)
    assert red["overlap_mu"] == pytest.approx(expected / (10000 / 15), rel=1e-3)
    assert red["overlap_ha"] == pytest.approx(expected / 10000, rel=1e-3)
    assert result["boundary"]["area_m2"] == pytest.approx(geodesic_area(square), rel=1e-3)
    assert red["share"] == pytest.approx(expected / geodesic_area(square), rel=2e-3)
    assert red["features"] and all("hxbh" in f and "plan_version" in f for f in red["features"])
    assert "禁止" in red["message"]["zh"] or "生态保护红线" in red["message"]["zh"]
    rule_set = result["rule_set"]
    assert rule_set["id"] == "land-preexamination" and rule_set["version"] and len(rule_set["sha256"]) == 64
    assert result["data_versions"]["plan_versions_in_force"]
    assert result["data_versions"]["layers"]["STBHHX"]["plan_versions"]
    overlaps = r.json()["overlaps"]
    red_geoms = [shape(f["geometry"]) for f in overlaps["features"] if f["properties"]["rule"] == "STBHHX-OCCUPY"]
    assert geodesic_area(shapely.union_all(red_geoms)) == pytest.approx(expected, rel=1e-3)


def test_inside_urban_boundary_on_compatible_land_passes(http, ogc_url, tokens, db):
    square, code, bsm = site(db, ("07", "08", "09", "10", "11"), clear=True)
    use = load_config().classes
    assert code in use
    r = execute(http, ogc_url, tokens["egov"], {"boundary": mapping(square), "stage": "用地预审",
                                                "use_code": code, "project_name": "通过示例"})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["verdict"] == "通过", [(f["rule"], f["verdict"]) for f in result["findings"]]
    planned = finding(result, "GHYDYH-USE")
    assert [f["bsm"] for f in planned["features"]] == [bsm]
    assert finding(result, "CZKFBJ-URBAN")["overlap_m2"] == 0


def test_incompatible_planned_use_is_nonconforming(http, ogc_url, tokens, db):
    square, code, bsm = site(db, ("07", "10"), clear=False)
    use_code = "1001" if code.startswith("07") else "0701"
    matrix = load_config().rule_sets["land-preexamination"].compatibility
    assert matrix.level(code, use_code) == "不符合"
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "用地预审",
                                                 "use_code": use_code})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    planned = finding(result, "GHYDYH-USE")
    assert planned["verdict"] == "不符合"
    assert planned["features"][0]["bsm"] == bsm and planned["features"][0]["verdict"] == "不符合"
    assert planned["overlap_m2"] == pytest.approx(geodesic_area(square), rel=1e-3)
    levels = load_config().verdicts
    assert levels.rank(result["verdict"]) >= levels.rank("不符合")


def test_hazard_point_within_the_buffer(http, ogc_url, tokens, db):
    """A square 0.001° east of a hazard point: the point is within 200 m and
    its geodesic distance to the square's west edge is what is reported."""
    zhdbh, x, y = db.execute("""
        SELECT d.zhdbh, ST_X(d.geom), ST_Y(d.geom) FROM base.dzzhd d, base.xzq c
        WHERE c.xzqjb = '市' AND ST_Within(ST_Expand(d.geom, 0.005), c.geom) ORDER BY d.id LIMIT 1""").fetchone()
    square = box(x + 0.001, y - 0.0005, x + 0.002, y + 0.0005)
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "选址", "use_code": "0801"},
                outputs={"result": {}})
    assert r.status_code == 200, r.text
    near = finding(r.json(), "DZZHD-NEAR")
    assert near["verdict"] == "提示" and near["count"] >= 1
    feature = next(f for f in near["features"] if f["zhdbh"] == zhdbh)
    assert feature["distance_m"] == pytest.approx(GEOD.inv(x, y, x + 0.001, y)[2], rel=0.01)
    assert 0 < near["overlap_m2"] <= r.json()["boundary"]["area_m2"]


def coordinate_file(centre) -> tuple[str, list[shapely.Polygon]]:
    """Two parcels near `centre` in zone 37 with the zone number in the
    eastings, the first with a hole; and the parcels in zone-37 metres."""
    e0, n0 = (round(v, -1) for v in TO_4525.transform(centre.x, centre.y))
    one = shapely.Polygon([(e0, n0), (e0 + 40, n0), (e0 + 40, n0 - 40), (e0, n0 - 40)],
                          [[(e0 + 10, n0 - 10), (e0 + 20, n0 - 10), (e0 + 20, n0 - 20), (e0 + 10, n0 - 20)]])
    two = shapely.box(e0 + 60, n0 - 20, e0 + 80, n0)
    lines = ["[属性描述]", "坐标系=2000国家大地坐标系", "几度分带=3", "投影类型=高斯克吕格", "计量单位=米", "带号=37",
             "精度=0.01", "[地块坐标]"]
    for number, parcel in ((1, one), (2, two)):
        rings = [parcel.exterior, *parcel.interiors]
        lines.append(f"{sum(len(r.coords) for r in rings)},{parcel.area / 10000:.4f},{number},测试地块{number},面,,"
                     f"工业用地,1001,@")
        for ring_no, ring in enumerate(rings, start=1):
            lines += [f"J{i + 1},{ring_no},{y:.3f},{x:.3f}" for i, (x, y) in enumerate(ring.coords)]
    return "\n".join(lines) + "\n", [one, two]


def test_gbk_coordinate_file_upload_two_parcels_with_hole_zone_37(http, ogc_url, tokens, db):
    square, _, _ = site(db, ("07", "08", "09", "10", "11"), clear=False)
    text, parcels = coordinate_file(square.centroid)
    content = text.encode("gbk")
    r = http.post(f"{ogc_url}/processes/compliance-check/upload", headers=auth(tokens["staff"]),
                  files={"file": ("界址点.txt", content, "text/plain")},
                  data={"stage": "用地预审", "use_code": "1001", "case_id": "KA-TXT"}, timeout=120)
    assert r.status_code == 200, r.text
    b = r.json()["result"]["boundary"]
    assert b["source_format"] == "界址点坐标文件" and b["source_crs"] == "EPSG:4525"
    assert b["parts"] == 2 and b["holes"] == 1
    to_lonlat = pyproj.Transformer.from_crs(4525, 4490, always_xy=True)
    expected = sum(geodesic_area(shapely.transform(p, to_lonlat.transform, interleaved=False)) for p in parcels)
    assert b["area_m2"] == pytest.approx(expected, rel=1e-3)
    assert [p["number"] for p in b["parcels"]] == ["1", "2"]
    # the same file as base64 GBK in boundary_text gives the same answer
    r2 = execute(http, ogc_url, tokens["staff"], {
        "boundary_text": {"value": base64.b64encode(content).decode(), "encoding": "base64"},
        "stage": "用地预审", "use_code": "1001"}, outputs={"result": {}})
    assert r2.status_code == 200 and r2.json()["boundary"]["area_m2"] == b["area_m2"]


def test_geojson_in_zone_37_with_crs(http, ogc_url, tokens, db):
    square, _, _ = site(db, ("07", "08", "09", "10", "11"), clear=False)
    projected = shapely.transform(square, TO_4525.transform, interleaved=False)
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(projected), "crs": "EPSG:4525",
                                                 "stage": "选址", "use_code": "0901"}, outputs={"result": {}})
    assert r.status_code == 200, r.text
    assert r.json()["boundary"]["area_m2"] == pytest.approx(geodesic_area(square), rel=1e-3)


# --- bad input: 4xx with the reason, nothing written ---------------------------

def bad_txt(centre, change) -> str:
    text, _ = coordinate_file(centre)
    return change(text)


def drop_closing_point(text: str) -> str:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("J1,1,"))
    closing = next(i for i in range(first + 1, len(lines)) if lines[i].split(",")[2:] == lines[first].split(",")[2:])
    return "\n".join(lines[:closing] + lines[closing + 1:])


@pytest.mark.parametrize("case", ["self-intersecting", "unclosed TXT ring", "wrong zone", "outside the city",
                                  "empty", "a point", "oversize", "unknown stage", "unknown use code"])
def test_bad_input_is_refused_and_nothing_is_stored(http, ogc_url, tokens, db, case):
    square, _, _ = site(db, ("07", "08", "09", "10", "11"), clear=False)
    c = square.centroid
    inputs = {"stage": "用地预审", "use_code": "1001"}
    status, words, field = 400, (), "boundary"
    if case == "self-intersecting":
        inputs["boundary"] = {"type": "Polygon", "coordinates": [[[c.x, c.y], [c.x + .001, c.y + .001],
                                                                  [c.x + .001, c.y], [c.x, c.y + .001], [c.x, c.y]]]}
        words = ("自相交", "intersects itself")
    elif case == "unclosed TXT ring":
        inputs["boundary_text"] = bad_txt(c, drop_closing_point)
        words, field = ("未闭合", "not closed"), "boundary_text"
    elif case == "wrong zone":
        inputs["boundary_text"] = bad_txt(c, lambda t: t.replace("带号=37", "带号=38"))
        words, field = ("带号不符", "zone"), "boundary_text"
    elif case == "outside the city":
        inputs["boundary_text"] = bad_txt(c, lambda t: t.replace("带号=37", "带号=36").replace(",37", ",36"))
        words = ("本市范围", "outside the city")
    elif case == "empty":
        inputs["boundary"] = {"type": "FeatureCollection", "features": []}
        words = ("没有要素", "no features")
    elif case == "a point":
        inputs["boundary"] = {"type": "Point", "coordinates": [c.x, c.y]}
        words = ("不是面", "not polygonal")
    elif case == "oversize":
        inputs["boundary"] = mapping(box(c.x - 0.06, c.y - 0.06, c.x + 0.06, c.y + 0.06))
        status, words = 413, ("超过上限", "exceeds the limit")
    elif case == "unknown stage":
        inputs.update(boundary=mapping(square), stage="开工")
        words, field = ("业务阶段", "stage"), "stage"
    else:
        inputs.update(boundary=mapping(square), use_code="9999")
        words, field = ("9999", "classification"), "use_code"
    before = counts(db)
    r = execute(http, ogc_url, tokens["staff"], inputs)
    assert r.status_code == status, r.text
    body = r.json()
    for word in words:
        assert word in body["message_zh"] + body["message_en"], body
    assert body["field"] == field and body["message_zh"] and body["message_en"]
    assert counts(db) == before


# --- reports, history, audit, access ------------------------------------------

@pytest.fixture(scope="module")
def stored_check(http, ogc_url, tokens, red_line_case):
    square, _ = red_line_case
    r = execute(http, ogc_url, tokens["staff"], {"boundary": mapping(square), "stage": "用地预审", "use_code": "1001",
                                                 "case_id": "HIST-001", "project_name": "历史记录测试项目"},
                outputs={"result": {}, "report_pdf": {"transmissionMode": "reference"}})
    assert r.status_code == 200, r.text
    return r.json()


def test_pdf_report_holds_the_verdict_in_chinese_with_the_cjk_font(http, tokens, stored_check, tmp_path):
    href = stored_check["report_pdf"]["href"]
    r = http.get(href, headers=auth(tokens["staff"]), timeout=120)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    (tmp_path / "r.pdf").write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert f"检测结论：{stored_check['result']['verdict']}" in text.replace(" ", "")
    assert "生态保护红线" in text and stored_check["result"]["check_id"] in text
    assert stored_check["result"]["verification"]["sha256"] in text.replace("\n", "")
    fonts = subprocess.run(["pdffonts", str(tmp_path / "r.pdf")], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes yes " in line for line in cjk)  # embedded, subset
    again = http.get(href, headers=auth(tokens["admin"]), timeout=120)  # admin sees every check
    assert again.content == r.content  # the filed report never changes


def test_sync_pdf_output_is_raw_pdf(http, ogc_url, tokens, red_line_case):
    square, _ = red_line_case
    r = execute(http, ogc_url, tokens["egov"], {"boundary": mapping(square), "stage": "选址", "use_code": "0701"},
                outputs={"report_pdf": {}})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/pdf")
    assert r.content.startswith(b"%PDF")


def test_html_report_and_overlaps_download(http, tokens, stored_check):
    check_id = stored_check["result"]["check_id"]
    base = stored_check["report_pdf"]["href"].rsplit(".", 1)[0]
    html = http.get(base + ".html", headers=auth(tokens["staff"]), timeout=120)
    assert html.status_code == 200 and "text/html" in html.headers["Content-Type"]
    assert check_id in html.text and "<svg" in html.text
    # the map: a PNG from the map service's WMS GetMap under the drawn boundary
    assert "data:image/png;base64," in html.text and "地图服务不可用" not in html.text
    geo = http.get(base + ".geojson", headers=auth(tokens["staff"])).json()
    assert {f["properties"]["rule"] for f in geo["features"]} >= {"STBHHX-OCCUPY"}
    assert http.get(base + ".pdf").status_code == 401
    assert http.get(base.rsplit("/", 1)[0] + "/HG000.pdf", headers=auth(tokens["staff"])).status_code == 404


def test_result_hash_verifies_and_the_history_is_a_collection(http, ogc_url, tokens, db, stored_check):
    result = stored_check["result"]
    check_id = result["check_id"]
    stored = http.get(stored_check["report_pdf"]["href"].rsplit(".", 1)[0] + ".json",
                      headers=auth(tokens["admin"])).json()
    digest = stored["verification"]["sha256"]
    assert canonical_sha256({k: v for k, v in stored.items() if k != "verification"}) == digest
    assert digest == result["verification"]["sha256"]
    items = http.get(f"{ogc_url}/collections/HGJC/items", params={"ajbh": "HIST-001", "f": "json"},
                     headers=auth(tokens["staff"])).json()
    feature = next(f for f in items["features"] if f["properties"]["jcbh"] == check_id)
    assert feature["properties"]["jcjl"] == result["verdict"] and feature["properties"]["jghx"] == digest
    assert feature["properties"]["srhx"] == result["input_sha256"]
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert http.get(f"{ogc_url}/collections/HGJC/items").status_code == 401
    assert http.get(f"{ogc_url}/collections/HGJC/items", headers=auth(tokens["egov"])).status_code == 403
    audit = db.execute("SELECT actor, role, input_sha256, output_sha256 FROM ops.audit WHERE action = 'EXECUTE' "
                       "AND target LIKE %s", (f"%{check_id}",)).fetchone()
    assert audit == ("pytest-staff", "staff", result["input_sha256"], digest)


def test_only_staff_admin_egov_run_it(http, ogc_url, tokens, red_line_case):
    inputs = {"boundary": mapping(red_line_case[0]), "stage": "用地预审", "use_code": "1001"}
    r = execute(http, ogc_url, None, inputs)
    assert r.status_code == 401 and r.json()["message_zh"]
    for role in ("admin", "egov"):
        assert execute(http, ogc_url, tokens[role], inputs, outputs={"result": {}}).status_code == 200


def test_cli_check_prints_the_verdict_and_writes_reports(tmp_path, red_line_case, database_url):
    path = tmp_path / "项目.geojson"
    path.write_text(json.dumps({"type": "Feature", "properties": {"name": "命令行"},
                                "geometry": mapping(red_line_case[0])}), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "onemap.cli", "check", str(path), "--stage", "用地预审", "--use", "1001",
                          "--case-id", "CLI-1", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert "检测结论 / verdict: 禁止" in run.stdout
    written = sorted(p.suffix for p in (tmp_path / "out").iterdir())
    assert written == [".geojson", ".html", ".json", ".pdf"]
    result = json.loads(next((tmp_path / "out").glob("*.json")).read_text("utf-8"))
    pdf = next((tmp_path / "out").glob("*.pdf")).read_bytes()
    assert result["verdict"] == "禁止" and pdf.startswith(b"%PDF")
    bad = subprocess.run([sys.executable, "-m", "onemap.cli", "check", str(path), "--stage", "不存在", "--use", "1001"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "业务阶段" in bad.stderr


def test_process_description_lists_inputs_and_outputs(http, ogc_url):
    d = http.get(f"{ogc_url}/processes/compliance-check", params={"f": "json"}).json()
    assert {"boundary", "boundary_text", "boundary_file", "crs", "stage", "use_code", "case_id",
            "project_name"} <= set(d["inputs"])
    assert {"result", "report_html", "report_pdf", "overlaps"} <= set(d["outputs"])
    assert "async-execute" in d["jobControlOptions"]

