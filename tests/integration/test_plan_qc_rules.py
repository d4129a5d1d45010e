"""plan-qc, rule by rule: the plan of the running stack exported as a
package passes with no finding at all; each rule of the specification
catches a package with that defect injected, naming the rule, the layer,
the feature and the place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from processes.plan.export import export_package
from processes.qc.run import run_qc
from processes.qc.spec import default_edition, editions
from tests import plan_packages as pp


@pytest.fixture(scope="module")
def clean(database_url, tmp_path_factory) -> Path:
    return export_package(database_url, tmp_path_factory.mktemp("qc") / "clean.gpkg")


@pytest.fixture
def layers(clean):
    return pp.read(clean)


def check(database_url, tmp_path, layers, **kwargs):
    return run_qc(database_url, pp.write(tmp_path / "defect.gpkg", layers), **kwargs)


def rules_of(result) -> set[str]:
    return {rule for rule, n in result.counts.items() if n}


def only(result, rule: str, allowed: set[str] = frozenset()):
    """The findings of `rule`, after asserting no other rule fired (but
    those a defect brings with it by nature, `allowed`)."""
    assert rule in rules_of(result), result.summary()
    assert rules_of(result) <= {rule, *allowed}, {f.rule: f.message_en for f in result.findings}
    return [f for f in result.findings if f.rule == rule]


def near(finding, geom: shapely.Geometry, metres: float = 2.0) -> bool:
    assert finding.geometry is not None, finding
    return shape(finding.geometry).distance(geom) < metres / 100_000


def interior_index(layer: pp.Layer, exclude_prefix: str = "01") -> int:
    """A feature of GHYDYH that is not cropland (so indicators stay put)."""
    return next(i for i, r in enumerate(layer.rows) if not r["YDYHDM"].startswith(exclude_prefix))


def test_the_exported_plan_passes_with_no_finding(database_url, clean):
    result = run_qc(database_url, clean)
    assert result.counts == {}, [f.message_en for f in result.findings[:20]]
    assert result.passed and result.summary()["verdict_zh"] == "合格"
    assert {la["name"] for la in result.layers} >= {"XZQ", "GHYDYH", "STBHHX", "YJJBNT", "CZKFBJ", "GHZB"}


def test_a_shapefile_zip_in_gauss_kruger_passes_too(database_url, tmp_path):
    package = export_package(database_url, tmp_path / "plan-4546.zip", epsg=4546, fmt="shp-zip")
    result = run_qc(database_url, package)
    assert result.package_kind == "shapefile-zip"
    assert result.counts == {}, [f.message_en for f in result.findings[:20]]


def test_struct_layer(database_url, tmp_path, layers):
    del layers["CZKFBJ"]
    [f] = only(check(database_url, tmp_path, layers), "STRUCT-LAYER", {"INDICATOR-MISMATCH"})
    assert f.layer == "CZKFBJ" and "城镇开发边界" in f.message_zh and f.severity == "error"


def test_struct_field_missing_and_wrong_type(database_url, tmp_path, layers):
    stbhhx = layers["STBHHX"]
    stbhhx.fields.remove("HXMC")
    xzq = layers["XZQ"]
    for row in xzq.rows:
        row["MJ"] = str(row["MJ"])  # area as text
    found = only(check(database_url, tmp_path, layers), "STRUCT-FIELD")
    assert {(f.layer, f.message_en.split()[1]) for f in found} == {("STBHHX", "HXMC"), ("XZQ", "MJ")}


def test_struct_crs(database_url, tmp_path, layers):
    from pyproj import Transformer

    mercator = Transformer.from_crs(4490, 3857, always_xy=True)
    ls = layers["LSWHBHX"]
    ls.geoms = [shapely.transform(g, lambda c: np.column_stack(mercator.transform(c[:, 0], c[:, 1])))
                for g in ls.geoms]
    ls.crs = "EPSG:3857"
    [f] = only(check(database_url, tmp_path, layers), "STRUCT-CRS")
    assert f.layer == "LSWHBHX" and "EPSG:3857" in f.message_en


def test_attr_null(database_url, tmp_path, layers):
    i = interior_index(layers["GHYDYH"])
    layers["GHYDYH"].rows[i]["YDYHMC"] = " "
    [f] = only(check(database_url, tmp_path, layers), "ATTR-NULL")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "YDYHMC" in f.message_en
    assert near(f, layers["GHYDYH"].geoms[i])


def test_attr_code(database_url, tmp_path, layers):
    i = interior_index(layers["GHYDYH"])
    layers["GHYDYH"].rows[i]["YDYHDM"] = "0899"
    [f] = only(check(database_url, tmp_path, layers), "ATTR-CODE")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "0899" in f.message_zh


def test_attr_name(database_url, tmp_path, layers):
    i = interior_index(layers["GHYDYH"])
    layers["GHYDYH"].rows[i]["YDYHMC"] = "不存在的名称"
    [f] = only(check(database_url, tmp_path, layers), "ATTR-NAME")
    assert (f.layer, f.feature_id, f.severity) == ("GHYDYH", pp.fid(i), "warning")
    assert layers["GHYDYH"].rows[i]["YDYHDM"] in f.message_zh


def test_attr_xzq(database_url, tmp_path, layers):
    i = interior_index(layers["GHYDYH"])
    layers["GHYDYH"].rows[i]["XZQDM"] = "439999999999"
    [f] = only(check(database_url, tmp_path, layers), "ATTR-XZQ")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "439999999999" in f.message_en


def test_geom_invalid(database_url, tmp_path, layers):
    i = interior_index(layers["GHYDYH"])
    polygon = shapely.get_geometry(layers["GHYDYH"].geoms[i], 0)
    layers["GHYDYH"].geoms[i] = shapely.MultiPolygon([polygon, polygon])  # parts overlap: invalid
    [f] = only(check(database_url, tmp_path, layers), "GEOM-INVALID")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "自相交" in f.message_zh
    assert f.geometry["type"] == "Point" and near(f, polygon)


def test_geom_empty(database_url, tmp_path, layers):
    ls = layers["LSWHBHX"]
    ls.geoms[0] = ls.geoms[0].centroid
    [f] = only(check(database_url, tmp_path, layers), "GEOM-EMPTY")
    assert (f.layer, f.feature_id) == ("LSWHBHX", "1") and "POINT" in f.message_en


@pytest.mark.parametrize("size", [(0.5, 0.5), (30.0, 0.1)], ids=["tiny", "thin"])
def test_geom_sliver(database_url, tmp_path, layers, size):
    """A small rectangle cut out of a parcel as a parcel of its own: under
    1 m², or 30 m long and 0.1 m wide."""
    gh = layers["GHYDYH"]
    i = interior_index(gh)
    host = gh.geoms[i]
    c = shapely.get_geometry(host, 0).representative_point()
    dx, dy = size[0] / 97_600 / 2, size[1] / 110_800 / 2
    cut = shapely.box(c.x - dx, c.y - dy, c.x + dx, c.y + dy)
    assert host.contains(cut)
    gh.geoms[i] = shapely.multipolygons([shapely.difference(host, cut)])
    fid = gh.append({**gh.rows[i], "MJ": 0.0}, shapely.multipolygons([cut]))
    result = check(database_url, tmp_path, layers)
    found = only(result, "GEOM-SLIVER", {"AREA-MISMATCH"})
    assert [(f.layer, f.feature_id, f.severity) for f in found] == [("GHYDYH", str(fid), "warning")]
    assert near(found[0], cut)


def test_topo_overlap(database_url, tmp_path, layers):
    gh = layers["GHYDYH"]
    i = interior_index(gh)
    copy = gh.append(dict(gh.rows[i]), gh.geoms[i])
    [f] = only(check(database_url, tmp_path, layers), "TOPO-OVERLAP")
    assert (f.layer, f.feature_id, f.other_feature_id) == ("GHYDYH", pp.fid(i), str(copy))
    # the finding's coordinates have 8 decimals: off by at most 0.5e-8 along the outline
    assert shape(f.geometry).symmetric_difference(gh.geoms[i]).area < gh.geoms[i].length * 1e-8


def test_topo_gap(database_url, tmp_path, layers):
    gh = layers["GHYDYH"]
    i = interior_index(gh)
    hole = gh.geoms[i]
    del gh.rows[i], gh.geoms[i]
    [f] = only(check(database_url, tmp_path, layers), "TOPO-GAP")
    assert f.layer == "GHYDYH"
    assert shape(f.geometry).symmetric_difference(hole).area < 1e-12


def test_topo_outside(database_url, tmp_path, layers):
    ls = layers["LSWHBHX"]
    ls.geoms[0] = shapely.transform(ls.geoms[0], lambda c: c + [5.0, 0.0])  # 5° east: far outside
    [f] = only(check(database_url, tmp_path, layers), "TOPO-OUTSIDE")
    assert (f.layer, f.feature_id) == ("LSWHBHX", "1") and near(f, ls.geoms[0])


def test_line_cross(database_url, tmp_path, layers):
    farm = layers["YJJBNT"]
    cz = layers["CZKFBJ"]
    new = cz.append({**cz.rows[0], "BJBH": "X1", "MJ": farm.rows[0]["MJ"]}, farm.geoms[0])
    found = only(check(database_url, tmp_path, layers), "LINE-CROSS", {"INDICATOR-MISMATCH", "INDICATOR-TARGET"})
    assert [(f.layer, f.feature_id, f.other_layer, f.other_feature_id) for f in found] == [
        ("YJJBNT", "1", "CZKFBJ", str(new))]
    assert near(found[0], farm.geoms[0])


def test_line_farmland(database_url, tmp_path, layers):
    gh, farm = layers["GHYDYH"], layers["YJJBNT"]
    tree = shapely.STRtree(gh.geoms)
    under = [j for j in tree.query(farm.geoms[0], predicate="intersects")
             if shapely.area(shapely.intersection(gh.geoms[j], farm.geoms[0])) > 1e-9]
    for j in under:
        gh.rows[j].update(YDYHDM="0301", YDYHMC="乔木林地")
    found = only(check(database_url, tmp_path, layers), "LINE-FARMLAND", {"INDICATOR-MISMATCH"})
    assert {(f.layer, f.feature_id, f.other_feature_id, f.severity) for f in found} == {
        ("YJJBNT", "1", pp.fid(j), "warning") for j in under}


def test_area_mismatch(database_url, tmp_path, layers):
    i = interior_index(layers["GHYDYH"])
    layers["GHYDYH"].rows[i]["MJ"] *= 1.01
    [f] = only(check(database_url, tmp_path, layers), "AREA-MISMATCH")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and near(f, layers["GHYDYH"].geoms[i])


def _indicator(layers, name: str, unit: str = "430900") -> dict:
    return next(r for r in layers["GHZB"].rows if r["ZBMC"] == name and r["XZQDM"] == unit)


def test_indicator_mismatch(database_url, tmp_path, layers):
    _indicator(layers, "生态保护红线面积")["ZBZ"] *= 1.02
    [f] = only(check(database_url, tmp_path, layers), "INDICATOR-MISMATCH")
    assert f.layer == "GHZB" and "生态保护红线面积" in f.message_zh and "STBHHX" in f.message_en


def test_indicator_target(database_url, tmp_path, layers):
    from processes.qc.checks import load_targets

    spec = default_edition()
    target = next(t for t in load_targets(spec.path.parent / spec.rule("INDICATOR-TARGET").params["targets_file"])
                  if t["op"] == ">=")
    _indicator(layers, target["zbmc"], target["xzqdm"])["ZBZ"] = target["value"] * 0.9
    found = only(check(database_url, tmp_path, layers), "INDICATOR-TARGET", {"INDICATOR-MISMATCH"})
    assert [f.layer for f in found] == ["GHZB"] and target["zbmc"] in found[0].message_zh


def test_editions_are_selectable_and_declared(database_url, tmp_path, layers):
    del layers["GHZB"]
    assert "STRUCT-LAYER" in rules_of(check(database_url, tmp_path, layers))
    assert check(database_url, tmp_path, layers, edition="2021").counts == {}
    declared = pp.Layer("SJBXX", None, None, ["BZBB"], [{"BZBB": "2021"}], [None])
    layers["SJBXX"] = declared
    result = check(database_url, tmp_path, layers)
    assert result.spec.edition == "2021" and result.counts == {}
    assert set(editions()) >= {"2021", "2024"}


def test_every_rule_of_the_specification_has_a_test():
    tested = {name.removeprefix("test_").replace("_", "-").upper()
              for name in globals() if name.startswith("test_")}
    missing = {r.id for r in default_edition().rules} - {t for t in tested} - {
        "STRUCT-FIELD"}  # tested as test_struct_field_missing_and_wrong_type
    assert not missing, missing
