"""Boundary inputs: the coordinate file (GBK, parcels, holes, zones), GeoJSON,
WKT, shapefile and GeoPackage; refusals with the reason; unambiguous repairs."""

import base64
import io
import zipfile

import numpy as np
import pyproj
import pytest
import shapely
from pyogrio import raw

from onemap.core.errors import OneMapError
from processes.compliance import boundary

HEADER = """[属性描述]
坐标系=2000国家大地坐标系
几度分带=3
投影类型=高斯克吕格
计量单位=米
{zone}精度=0.01
[地块坐标]
"""


def square(name: str, ring: int, n: float, e: float, size: float) -> list[str]:
    pts = [(n, e), (n, e + size), (n - size, e + size), (n - size, e), (n, e)]
    return [f"{name}{i + 1 if i < 4 else 1},{ring},{x:.3f},{y:.3f}" for i, (x, y) in enumerate(pts)]


def coordinate_file(zone_line: str = "带号=37\n", easting: float = 37_512_000.0) -> str:
    lines = ["10,4.0,1,一号地块,面,,工业用地,1001,@",
             *square("J", 1, 3_158_000.0, easting, 200.0), *square("K", 2, 3_157_950.0, easting + 50, 50.0),
             "5,0.36,2,二号地块,面,,工业用地,1001,@", *square("J", 1, 3_158_000.0, easting + 400, 60.0)]
    return HEADER.format(zone=zone_line) + "\n".join(lines) + "\n"


def qualified(content: bytes, filename: str = "f") -> dict:
    return {"value": base64.b64encode(content).decode(), "encoding": "base64", "filename": filename}


def refused(inputs: dict, *words: str, status: int = 400) -> OneMapError:
    with pytest.raises(OneMapError) as info:
        boundary.from_inputs(inputs, 500)
    problem = info.value.problem
    assert problem.status == status
    for word in words:
        assert word in problem.zh + problem.en, (word, problem)
    return info.value


def test_gbk_coordinate_file_two_parcels_one_hole_zone_37():
    text = coordinate_file()
    b = boundary.from_inputs({"boundary_text": qualified(text.encode("gbk"))}, 500)
    assert b.source_epsg == 4525 and b.source_format == "界址点坐标文件"
    assert len(b.geometry.geoms) == 2
    assert sorted(len(p.interiors) for p in b.geometry.geoms) == [0, 1]
    assert [p["number"] for p in b.parcels] == ["1", "2"] and b.parcels[0]["name"] == "一号地块"
    # back in zone 37 the parcel areas are 200² - 50² and 60² (planar), as written
    back = pyproj.Transformer.from_crs(4490, 4525, always_xy=True)
    areas = sorted(shapely.transform(p, back.transform, interleaved=False).area for p in b.geometry.geoms)
    assert areas == pytest.approx([3600, 37500], rel=1e-6)


def test_utf8_file_without_zone_number_uses_the_stated_zone_cm():
    text = coordinate_file(easting=512_000.0)
    b = boundary.from_inputs({"boundary_text": text}, 500)
    assert b.source_epsg == 4546  # 3-degree CM 111E: zone 37 without the number in the easting
    assert b.geometry.bounds[0] == pytest.approx(111.12, abs=0.01)


def test_no_zone_anywhere_needs_crs():
    text = coordinate_file(zone_line="", easting=512_000.0)
    refused({"boundary_text": text}, "crs")
    assert boundary.from_inputs({"boundary_text": text, "crs": "EPSG:4546"}, 500).source_epsg == 4546


def test_zone_in_header_and_easting_disagree():
    refused({"boundary_text": coordinate_file(zone_line="带号=38\n")}, "带号不符", "zone 38")


def test_unclosed_ring_in_the_file():
    lines = coordinate_file().splitlines()
    lines.remove("J1,1,3158000.000,37512000.000")  # the closing point of parcel 1's outer ring
    refused({"boundary_text": "\n".join(lines)}, "未闭合", "not closed", "1")


def test_bad_line_names_its_number():
    text = coordinate_file().replace("J2,1,3158000.000,37512200.000", "J2,1,3158000.000,abc")
    error = refused({"boundary_text": text}, "abc")
    assert "第 " in error.problem.zh and "line" in error.problem.en


def test_xian80_is_refused():
    refused({"boundary_text": coordinate_file().replace("2000国家大地坐标系", "1980西安坐标系")}, "CGCS2000")


def ring(*pts):
    return {"type": "Polygon", "coordinates": [[list(p) for p in pts]]}


def test_self_intersecting_ring_is_refused_with_where():
    bowtie = ring((112, 28), (112.01, 28.01), (112.01, 28), (112, 28.01), (112, 28))
    refused({"boundary": bowtie}, "自相交", "intersects itself", "112.005")


def test_spike_is_repaired_and_said_so():
    spiked = ring((112, 28), (112.01, 28), (112.01, 28.01), (112.02, 28.01), (112.01, 28.01), (112, 28.01), (112, 28))
    b = boundary.from_inputs({"boundary": spiked}, 500)
    assert b.geometry.is_valid and b.geometry.area == pytest.approx(0.0001)
    assert b.notes and "修复" in b.notes[0].zh and "repaired" in b.notes[0].en


@pytest.mark.parametrize("value, words", [
    ({"type": "Point", "coordinates": [112, 28]}, ("不是面", "Point")),
    ({"type": "LineString", "coordinates": [[112, 28], [112.1, 28]]}, ("不是面", "LineString")),
    ({"type": "FeatureCollection", "features": []}, ("没有要素", "no features")),
    ({"type": "Polygon", "coordinates": []}, ("为空", "empty")),
    (ring((112, 28), (112.01, 28), (112.02, 28), (112, 28)), ("面积为零", "zero")),
    (ring((112, 28), (112.01, 28), (112.01, 28.01), (112, 28.01)), ("未闭合", "not closed")),
    (ring((512000, 3158000), (512100, 3158000), (512100, 3158100), (512000, 3158000)), ("经纬度", "crs")),
])
def test_bad_geojson_is_refused_with_the_reason(value, words):
    refused({"boundary": value}, *words)


def test_exactly_one_boundary_input():
    refused({}, "boundary")
    refused({"boundary": ring((112, 28), (112.1, 28), (112.1, 28.1), (112, 28)), "boundary_text": "POINT(1 2)"},
            "仅提供一个")


def test_wrong_zone_for_the_stated_crs():
    square_gk = ring((37512000, 3158000), (37512100, 3158000), (37512100, 3158100), (37512000, 3158000))
    assert boundary.from_inputs({"boundary": square_gk, "crs": "EPSG:4525"}, 500).source_epsg == 4525
    refused({"boundary": square_gk, "crs": "EPSG:4546"}, "带号不符", "37")
    refused({"boundary": square_gk, "crs": "EPSG:3857"}, "EPSG:3857")


def test_ewkt_and_overlapping_parts_merged():
    b = boundary.from_inputs({"boundary_text": "SRID=4546;MULTIPOLYGON(((512000 3158000,512100 3158000,512100 "
                                               "3158100,512000 3158000)),((512050 3158000,512150 3158000,512150 "
                                               "3158100,512050 3158000)))"}, 500)
    assert b.source_epsg == 4546 and b.source_format == "WKT"
    assert any("重叠" in n.zh for n in b.notes)


def _layer_file(driver: str, path) -> None:
    geometry = np.array([shapely.to_wkb(shapely.box(512000, 3158000, 512100, 3158100))], dtype=object)
    raw.write(str(path), geometry, [np.array(["地块一"], dtype=object)], ["name"], driver=driver,
              geometry_type="Polygon", crs="EPSG:4546", encoding="UTF-8")


def test_zipped_shapefile_and_geopackage(tmp_path):
    _layer_file("ESRI Shapefile", tmp_path / "dk.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for part in tmp_path.glob("dk.*"):
            zf.write(part, part.name)
    b = boundary.from_inputs({"boundary_file": qualified(buffer.getvalue(), "dk.zip")}, 500)
    assert b.source_format.startswith("Shapefile") and b.source_epsg == 4546 and b.parcels[0]["name"] == "地块一"
    _layer_file("GPKG", tmp_path / "dk.gpkg")
    b = boundary.from_inputs({"boundary_file": qualified((tmp_path / "dk.gpkg").read_bytes(), "dk.gpkg")}, 500)
    assert b.source_format == "GeoPackage" and b.source_epsg == 4546
    assert b.geometry.geoms[0].bounds[0] == pytest.approx(111.125, abs=0.01)


def test_too_many_parcels_is_413():
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": ring((112 + i * 0.01, 28), (112.005 + i * 0.01, 28), (112.005 + i * 0.01, 28.005),
                          (112 + i * 0.01, 28))} for i in range(3)]}
    with pytest.raises(OneMapError) as info:
        boundary.from_inputs({"boundary": fc}, 2)
    assert info.value.problem.status == 413
