"""plan-qc, rule by rule: the plan of the running stack exported as a
package passes with no finding at all; each rule of the specification
catches a package with that defect injected, naming the rule, the layer,
the feature and the place. Defects that do not meet share a package (three
checks instead of one per rule); each test asserts its rule's findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from processes.plan.export import export_package
from processes.qc.package import open_package
from processes.qc.run import QcResult, choose_edition, run_qc
from processes.qc.spec import default_edition, editions
from tests import plan_packages as pp


@pytest.fixture(scope="module")
def clean(plan_package) -> Path:
    return plan_package


@pytest.fixture
def layers(clean):
    return pp.read(clean)


def check(database_url, tmp_path, layers, **kwargs):
    return run_qc(database_url, pp.write(tmp_path / "defect.gpkg", layers), **kwargs)


def rules_of(result) -> set[str]:
    return {rule for rule, n in result.counts.items() if n}


@dataclass
class Defective:
    """One package with several defects injected, each in a feature of its
    own (apart from the others), checked once: a whole check costs seconds,
    so the defects share runs. `rules` are the rules its defects fire (or
    may fire by nature); each test asserts the findings of its own rule."""
    layers: dict[str, pp.Layer]
    result: QcResult
    rules: set[str]
    at: dict[str, object] = field(default_factory=dict)  # what each test changed, where


def only(package: Defective, rule: str):
    """The findings of `rule`, after asserting that no rule fired which no
    defect of the package explains."""
    result = package.result
    assert rule in rules_of(result), result.summary()
    assert rules_of(result) <= package.rules, {f.rule: f.message_en for f in result.findings}
    return [f for f in result.findings if f.rule == rule]


def near(finding, geom: shapely.Geometry, metres: float = 2.0) -> bool:
    assert finding.geometry is not None, finding
    return shape(finding.geometry).distance(geom) < metres / 100_000


def interior_indices(layer: pp.Layer, n: int, avoid: list[shapely.Geometry] = (),
                     exclude_prefix: str = "01") -> list[int]:
    """`n` features of GHYDYH that are not cropland (so indicators stay put),
    of one part, touching neither each other nor `avoid`: defects injected
    in them do not meet."""
    taken: list[shapely.Geometry] = list(avoid)
    chosen = []
    for i, (row, geom) in enumerate(zip(layer.rows, layer.geoms, strict=True)):
        if row["YDYHDM"].startswith(exclude_prefix) or shapely.get_num_geometries(geom) != 1:
            continue
        if any(geom.distance(other) < 1e-3 for other in taken):
            continue
        chosen.append(i)
        taken.append(geom)
        if len(chosen) == n:
            return chosen
    raise AssertionError(f"only {len(chosen)} separate interior features")


def _indicator(layers, name: str, unit: str = "430900") -> dict:
    return next(r for r in layers["GHZB"].rows if r["ZBMC"] == name and r["XZQDM"] == unit)


def _checked(database_url, tmp_path_factory, layers, rules: set[str], at: dict) -> Defective:
    path = pp.write(tmp_path_factory.mktemp("qc") / "defect.gpkg", layers)
    return Defective(layers, run_qc(database_url, path), rules, at)


@pytest.fixture(scope="module")
def feature_defects(database_url, clean, tmp_path_factory) -> Defective:
    """Attribute, geometry, topology, area and indicator defects, one feature each."""
    layers = pp.read(clean)
    gh, ls = layers["GHYDYH"], layers["LSWHBHX"]
    null, code, name, xzq, invalid, overlap, area, gap = interior_indices(gh, 8)
    assert gap == max(null, code, name, xzq, invalid, overlap, area, gap)  # deleted last: fids stay
    at: dict[str, object] = {"null": null, "code": code, "name": name, "xzq": xzq, "invalid": invalid,
                             "overlap": overlap, "area": area, "name_code": gh.rows[name]["YDYHDM"]}
    # TOPO-GAP: a parcel deleted (before anything is appended, so fids hold)
    at["hole"] = gh.geoms[gap]
    del gh.rows[gap], gh.geoms[gap]
    gh.rows[null]["YDYHMC"] = " "                       # ATTR-NULL
    gh.rows[code]["YDYHDM"] = "100109"                  # ATTR-CODE: under 1001, but no class
    gh.rows[name]["YDYHMC"] = "不存在的名称"              # ATTR-NAME
    gh.rows[xzq]["XZQDM"] = "439999999999"              # ATTR-XZQ
    polygon = shapely.get_geometry(gh.geoms[invalid], 0)
    gh.geoms[invalid] = shapely.MultiPolygon([polygon, polygon])  # GEOM-INVALID: parts overlap
    at["invalid_polygon"] = polygon
    at["copy"] = gh.append(dict(gh.rows[overlap]), gh.geoms[overlap])  # TOPO-OVERLAP
    gh.rows[area]["MJ"] *= 1.01                         # AREA-MISMATCH
    ls.geoms[0] = ls.geoms[0].centroid                   # GEOM-EMPTY
    ls.geoms[1] = shapely.transform(ls.geoms[1], lambda c: c + [5.0, 0.0])  # TOPO-OUTSIDE: 5° east
    at["empty"], at["outside"] = 0, 1
    _indicator(layers, "生态保护红线面积")["ZBZ"] *= 1.02  # INDICATOR-MISMATCH
    rules = {"ATTR-NULL", "ATTR-CODE", "ATTR-NAME", "ATTR-XZQ", "GEOM-INVALID", "TOPO-OVERLAP", "TOPO-GAP",
             "AREA-MISMATCH", "GEOM-EMPTY", "TOPO-OUTSIDE", "INDICATOR-MISMATCH"}
    return _checked(database_url, tmp_path_factory, layers, rules, at)


@pytest.fixture(scope="module")
def structure_defects(database_url, clean, tmp_path_factory) -> Defective:
    """A layer missing, fields missing or mistyped, a layer in a wrong system."""
    from pyproj import Transformer

    layers = pp.read(clean)
    del layers["CZKFBJ"], layers["GHZB"]                 # STRUCT-LAYER (GHZB: the editions test)
    layers["STBHHX"].fields.remove("HXMC")               # STRUCT-FIELD
    for row in layers["XZQ"].rows:
        row["MJ"] = str(row["MJ"])  # area as text
    mercator = Transformer.from_crs(4490, 3857, always_xy=True)  # STRUCT-CRS
    ls = layers["LSWHBHX"]
    ls.geoms = [shapely.transform(g, lambda c: np.column_stack(mercator.transform(c[:, 0], c[:, 1])))
                for g in ls.geoms]
    ls.crs = "EPSG:3857"
    # a missing CZKFBJ would leave its indicator unmatched, were GHZB there
    return _checked(database_url, tmp_path_factory, layers,
                    {"STRUCT-LAYER", "STRUCT-FIELD", "STRUCT-CRS", "INDICATOR-MISMATCH"}, {})


@pytest.fixture(scope="module")
def line_defects(database_url, clean, tmp_path_factory) -> Defective:
    """Slivers, control lines crossed, farmland planned as forest, an
    indicator below its target."""
    from processes.qc.checks import load_targets

    layers = pp.read(clean)
    gh, farm, cz = layers["GHYDYH"], layers["YJJBNT"], layers["CZKFBJ"]
    at: dict[str, object] = {}
    # LINE-FARMLAND: the parcels under the first farmland area planned as forest
    tree = shapely.STRtree(gh.geoms)
    under = [j for j in tree.query(farm.geoms[0], predicate="intersects")
             if shapely.area(shapely.intersection(gh.geoms[j], farm.geoms[0])) > 1e-9]
    for j in under:
        gh.rows[j].update(YDYHDM="0301", YDYHMC="乔木林地")
    at["under"] = under
    # LINE-CROSS: a development boundary over a farmland area away from the first
    crossed = next(k for k in range(1, len(farm.geoms)) if farm.geoms[k].distance(farm.geoms[0]) > 1e-3)
    at["crossed"] = crossed
    at["boundary"] = cz.append({**cz.rows[0], "BJBH": "X1", "MJ": farm.rows[crossed]["MJ"]}, farm.geoms[crossed])
    # GEOM-SLIVER: a small rectangle cut out of a parcel as a parcel of its
    # own: under 1 m² (tiny), or 30 m long and 0.1 m wide (thin)
    hosts = interior_indices(gh, 2, avoid=[farm.geoms[0], farm.geoms[crossed]])
    for host_index, (size_id, size) in zip(hosts, [("tiny", (0.5, 0.5)), ("thin", (30.0, 0.1))], strict=True):
        host = gh.geoms[host_index]
        c = shapely.get_geometry(host, 0).representative_point()
        dx, dy = size[0] / 97_600 / 2, size[1] / 110_800 / 2
        cut = shapely.box(c.x - dx, c.y - dy, c.x + dx, c.y + dy)
        assert host.contains(cut)
        gh.geoms[host_index] = shapely.multipolygons([shapely.difference(host, cut)])
        at[size_id] = (gh.append({**gh.rows[host_index], "MJ": 0.0}, shapely.multipolygons([cut])), cut)
    # INDICATOR-TARGET: an indicator with a lower bound reported below it
    spec = default_edition()
    target = next(t for t in load_targets(spec.path.parent / spec.rule("INDICATOR-TARGET").params["targets_file"])
                  if t["op"] == ">=")
    _indicator(layers, target["zbmc"], target["xzqdm"])["ZBZ"] = target["value"] * 0.9
    at["target"] = target
    # what comes with these defects by nature: the cut parcels' areas, the
    # indicators of farmland and development boundary
    rules = {"LINE-FARMLAND", "LINE-CROSS", "GEOM-SLIVER", "INDICATOR-TARGET", "AREA-MISMATCH",
             "INDICATOR-MISMATCH"}
    return _checked(database_url, tmp_path_factory, layers, rules, at)


# The exported plan as a GeoPackage in EPSG:4490 passes with no finding:
# test_plan_processes checks it as staff upload it.
def test_a_shapefile_zip_in_gauss_kruger_passes_too(database_url, tmp_path):
    package = export_package(database_url, tmp_path / "plan-4546.zip", epsg=4546, fmt="shp-zip")
    result = run_qc(database_url, package)
    assert result.package_kind == "shapefile-zip"
    assert result.counts == {}, [f.message_en for f in result.findings[:20]]


def test_struct_layer(structure_defects):
    found = only(structure_defects, "STRUCT-LAYER")
    assert sorted(f.layer for f in found) == ["CZKFBJ", "GHZB"]
    [f] = [f for f in found if f.layer == "CZKFBJ"]
    assert "城镇开发边界" in f.message_zh and f.severity == "error"


def test_struct_field_missing_and_wrong_type(structure_defects):
    found = only(structure_defects, "STRUCT-FIELD")
    assert {(f.layer, f.message_en.split()[1]) for f in found} == {("STBHHX", "HXMC"), ("XZQ", "MJ")}


def test_struct_crs(structure_defects):
    [f] = only(structure_defects, "STRUCT-CRS")
    assert f.layer == "LSWHBHX" and "EPSG:3857" in f.message_en


def test_attr_null(feature_defects):
    i = feature_defects.at["null"]
    [f] = only(feature_defects, "ATTR-NULL")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "YDYHMC" in f.message_en
    assert near(f, feature_defects.layers["GHYDYH"].geoms[i])


def test_attr_code(feature_defects):
    i = feature_defects.at["code"]
    [f] = only(feature_defects, "ATTR-CODE")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "100109" in f.message_zh


def test_attr_name(feature_defects):
    i = feature_defects.at["name"]
    [f] = only(feature_defects, "ATTR-NAME")
    assert (f.layer, f.feature_id, f.severity) == ("GHYDYH", pp.fid(i), "warning")
    assert feature_defects.at["name_code"] in f.message_zh


def test_attr_xzq(feature_defects):
    i = feature_defects.at["xzq"]
    [f] = only(feature_defects, "ATTR-XZQ")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "439999999999" in f.message_en


def test_geom_invalid(feature_defects):
    i = feature_defects.at["invalid"]
    [f] = only(feature_defects, "GEOM-INVALID")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i)) and "自相交" in f.message_zh
    assert f.geometry["type"] == "Point" and near(f, feature_defects.at["invalid_polygon"])


def test_geom_empty(feature_defects):
    i = feature_defects.at["empty"]
    [f] = only(feature_defects, "GEOM-EMPTY")
    assert (f.layer, f.feature_id) == ("LSWHBHX", pp.fid(i)) and "POINT" in f.message_en


@pytest.mark.parametrize("size", ["tiny", "thin"])
def test_geom_sliver(line_defects, size):
    """A small rectangle cut out of a parcel as a parcel of its own: under
    1 m² (tiny), or 30 m long and 0.1 m wide (thin)."""
    fid, cut = line_defects.at[size]
    found = only(line_defects, "GEOM-SLIVER")
    # both slivers of the package, and nothing else
    assert sorted((f.layer, f.feature_id, f.severity) for f in found) == sorted(
        ("GHYDYH", str(line_defects.at[s][0]), "warning") for s in ("tiny", "thin"))
    [mine] = [f for f in found if f.feature_id == str(fid)]
    assert near(mine, cut)


def test_topo_overlap(feature_defects):
    i, copy = feature_defects.at["overlap"], feature_defects.at["copy"]
    gh = feature_defects.layers["GHYDYH"]
    [f] = only(feature_defects, "TOPO-OVERLAP")
    assert (f.layer, f.feature_id, f.other_feature_id) == ("GHYDYH", pp.fid(i), str(copy))
    # the finding's coordinates have 8 decimals: off by at most 0.5e-8 along the outline
    assert shape(f.geometry).symmetric_difference(gh.geoms[i]).area < gh.geoms[i].length * 1e-8


def test_topo_gap(feature_defects):
    hole = feature_defects.at["hole"]
    [f] = only(feature_defects, "TOPO-GAP")
    assert f.layer == "GHYDYH"
    # as for the overlap: 8 decimals, off by at most 0.5e-8 along the outline
    assert shape(f.geometry).symmetric_difference(hole).area < hole.length * 1e-8


def test_topo_outside(feature_defects):
    i = feature_defects.at["outside"]
    [f] = only(feature_defects, "TOPO-OUTSIDE")
    assert (f.layer, f.feature_id) == ("LSWHBHX", pp.fid(i))
    assert near(f, feature_defects.layers["LSWHBHX"].geoms[i])


def test_line_cross(line_defects):
    k, new = line_defects.at["crossed"], line_defects.at["boundary"]
    found = only(line_defects, "LINE-CROSS")
    assert [(f.layer, f.feature_id, f.other_layer, f.other_feature_id) for f in found] == [
        ("YJJBNT", pp.fid(k), "CZKFBJ", str(new))]
    assert near(found[0], line_defects.layers["YJJBNT"].geoms[k])


def test_line_farmland(line_defects):
    found = only(line_defects, "LINE-FARMLAND")
    assert {(f.layer, f.feature_id, f.other_feature_id, f.severity) for f in found} == {
        ("YJJBNT", "1", pp.fid(j), "warning") for j in line_defects.at["under"]}


def test_area_mismatch(feature_defects):
    i = feature_defects.at["area"]
    [f] = only(feature_defects, "AREA-MISMATCH")
    assert (f.layer, f.feature_id) == ("GHYDYH", pp.fid(i))
    assert near(f, feature_defects.layers["GHYDYH"].geoms[i])


def test_indicator_mismatch(feature_defects):
    [f] = only(feature_defects, "INDICATOR-MISMATCH")
    assert f.layer == "GHZB" and "生态保护红线面积" in f.message_zh and "STBHHX" in f.message_en


def test_indicator_target(line_defects):
    target = line_defects.at["target"]
    found = only(line_defects, "INDICATOR-TARGET")
    assert [f.layer for f in found] == ["GHZB"] and target["zbmc"] in found[0].message_zh


def test_editions_are_selectable_and_declared(database_url, tmp_path, layers, structure_defects):
    # the default edition requires GHZB (checked in the package without it)
    assert "GHZB" in {f.layer for f in only(structure_defects, "STRUCT-LAYER")}
    assert structure_defects.result.spec.edition == default_edition().edition
    del layers["GHZB"]
    chosen = pp.write(tmp_path / "chosen.gpkg", layers)
    assert choose_edition(open_package(chosen, tmp_path), "2021").edition == "2021"
    # one whole check (seconds): the edition the package declares, which
    # passes a package without GHZB
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
