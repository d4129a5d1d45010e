"""OGC API Features (Parts 1-3), CQL2 and OGC API Common through GDAL (the
3.12 of the pyogrio wheel and Debian's ogrinfo) and OWSLib: feature counts
equal the database's, in every served CRS, with paging and filters."""

from __future__ import annotations

import subprocess

import pyogrio
import pyogrio.raw
import pyproj
import pytest
import shapely
from owslib.ogcapi.features import Features

FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
COMMON = "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
QUERYABLES = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
GDAL = "GDAL 3.12 (pyogrio)"


@pytest.fixture(scope="module")
def counties(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '县'")}


@pytest.mark.conformance(FEATURES + "core", FEATURES + "geojson", COMMON + "core", COMMON + "landing-page",
                         COMMON + "json", "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
                         client=GDAL)
def test_gdal_lists_the_public_collections_and_reads_every_feature_in_pages(ogc_url, db, layers):
    listed = {name for name, _ in pyogrio.list_layers(f"OAPIF:{ogc_url}")}
    assert {layer.id for layer in layers if layer.is_public} <= listed
    assert not {layer.id for layer in layers if not layer.is_public} & listed  # anonymous: public only
    # a page of 7 makes GDAL follow the `next` links some 14 times
    meta, fids, geometries, fields = pyogrio.raw.read(f"OAPIF:{ogc_url}", layer="XZQ", PAGE_SIZE="7")
    names = list(meta["fields"])
    expected = dict(db.execute("SELECT xzqdm, xzqmc FROM base.xzq").fetchall())
    assert dict(zip(fields[names.index("xzqdm")], fields[names.index("xzqmc")], strict=True)) == expected
    assert len(geometries) == len(expected)


@pytest.mark.conformance("http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs", client=GDAL)
@pytest.mark.parametrize("epsg", [4490, 4546, 4525])
def test_gdal_reads_features_in_each_served_crs(ogc_url, db, epsg):
    meta, _, geometries, fields = pyogrio.raw.read(f"OAPIF:{ogc_url}", layer="XZQ", CRS=f"EPSG:{epsg}")
    assert meta["crs"] == f"EPSG:{epsg}"
    code = fields[list(meta["fields"]).index("xzqdm")][0]
    lon, lat = db.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM base.xzq "
                          "WHERE xzqdm = %s) s", (code,)).fetchone()
    x, y = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
    # GDAL hands out x east, y north in every CRS (its traditional GIS order)
    assert shapely.from_wkb(geometries[0]).buffer(1e-3).contains(shapely.Point(x, y))


@pytest.mark.conformance(QUERYABLES + "queryables-query-parameters", client=GDAL)
def test_gdal_sends_an_attribute_filter_as_a_queryable_parameter(ogc_url, counties):
    meta, _, _, fields = pyogrio.raw.read(f"OAPIF:{ogc_url}", layer="XZQ", where="xzqjb = '县'")
    assert set(fields[list(meta["fields"]).index("xzqdm")]) == counties


@pytest.mark.conformance(FEATURES + "core", client="Debian ogrinfo (GDAL 3.6)")
def test_debian_ogrinfo_counts_the_features(ogc_url, db):
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=20", f"OAPIF:{ogc_url}", "DZZHD"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    count = db.execute("SELECT count(*) FROM base.dzzhd").fetchone()[0]
    assert f"Feature Count: {count}" in out and "Geometry: Point" in out


@pytest.fixture(scope="module")
def owslib_features(ogc_url) -> Features:
    return Features(ogc_url)


@pytest.mark.conformance(CQL2 + "basic-cql2", CQL2 + "cql2-text", client="OWSLib Features")
@pytest.mark.parametrize("text, where", [
    ("xzqjb = '县' AND mj > 0", "xzqjb = '县' AND mj > 0"),
    ("xzqjb <> '县' OR xzqdm = '430902'", "xzqjb <> '县' OR xzqdm = '430902'"),
    ("NOT (mj < 1000000)", "NOT (mj < 1000000)"),
], ids=["and", "or", "not"])
def test_owslib_cql2_text_filters_select_what_the_database_selects(owslib_features, db, text, where):
    got = owslib_features.collection_items("XZQ", filter=text, limit=1000)
    expected = {r[0] for r in db.execute(f"SELECT xzqdm FROM base.xzq WHERE {where}")}
    assert expected and {f["properties"]["xzqdm"] for f in got["features"]} == expected
    assert got["numberMatched"] == len(expected)


@pytest.mark.conformance(QUERYABLES + "queryables", client="OWSLib Features")
def test_owslib_queryables_name_the_columns(owslib_features, db):
    queryables = owslib_features.collection_queryables("XZQ")
    columns = {r[0] for r in db.execute("SELECT column_name FROM information_schema.columns "
                                        "WHERE table_schema = 'base' AND table_name = 'xzq'")}
    assert {"xzqdm", "xzqmc", "xzqjb"} <= set(queryables["properties"]) <= columns | {"geometry", "id"}


@pytest.mark.conformance(FEATURES + "core", client="OWSLib Features")
def test_owslib_pages_through_the_items_with_limit_and_offset(owslib_features, db):
    expected = sorted(r[0] for r in db.execute("SELECT id FROM base.dzzhd"))
    seen, offset = [], 0
    while True:
        page = owslib_features.collection_items("DZZHD", limit=25, offset=offset)
        seen += [f["id"] for f in page["features"]]
        if page["numberReturned"] < 25:
            break
        offset += 25
    assert sorted(int(i) for i in seen) == expected
    item = owslib_features.collection_item("DZZHD", str(expected[0]))
    assert item["type"] == "Feature" and int(item["id"]) == expected[0]
