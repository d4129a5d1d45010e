"""The OGC services beside OGC API: CSW 2.0.2 and 3.0 through OWSLib (the
client of QGIS's MetaSearch), OAI-PMH through its protocol in plain HTTP and
XML, WMS 1.3 and WMTS 1.0 through GDAL (rasterio's and Debian's gdalinfo)
and OWSLib: what they return is what the database holds."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import rasterio
import requests
from lxml import etree
from owslib.csw import CatalogueServiceWeb
from owslib.fes2 import PropertyIsLike  # CSW 3.0 speaks FES 2.0
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService

from catalogue.config import AUDIENCE_FILTERS, REPOSITORY_SCHEMA

OAI = {"oai": "http://www.openarchives.org/OAI/2.0/"}
SIZE = 128


@pytest.fixture(scope="module")
def public_ids(db) -> set[str]:
    return {r[0] for r in db.execute(f"SELECT identifier FROM {REPOSITORY_SCHEMA}.records "
                                     f"WHERE {AUDIENCE_FILTERS['public']}")}


@pytest.mark.conformance("CSW 2.0.2", client="OWSLib CSW (QGIS MetaSearch's client)")
def test_csw_202_pages_through_every_public_record(base_url, public_ids):
    csw = CatalogueServiceWeb(f"{base_url}/csw", version="2.0.2", timeout=60)
    found, start = set(), 1
    while start:
        csw.getrecords2(esn="brief", startposition=start, maxrecords=50)
        found |= set(csw.records)
        start = csw.results["nextrecord"] if 0 < csw.results["nextrecord"] <= csw.results["matches"] else 0
    assert found == public_ids


@pytest.mark.conformance("CSW 3.0", client="OWSLib CSW 3.0")
def test_csw_30_finds_records_by_title(base_url, db, public_ids):
    csw = CatalogueServiceWeb(f"{base_url}/csw", version="3.0.0", timeout=60)
    assert csw.version == "3.0.0"
    csw.getrecords(constraints=[PropertyIsLike("dc:title", "%控制线%")], esn="full", maxrecords=100)
    expected = {r[0] for r in db.execute(f"SELECT identifier FROM {REPOSITORY_SCHEMA}.records WHERE title LIKE "
                                         "'%%控制线%%'")} & public_ids
    assert expected and set(csw.records) == expected


@pytest.mark.conformance("OAI-PMH 2.0", client="requests + lxml (OAI-PMH 2.0 protocol, resumption tokens)")
def test_oaipmh_harvests_every_public_record(base_url, public_ids):
    found, params = [], {"verb": "ListIdentifiers", "metadataPrefix": "iso19139"}
    for _ in range(100):  # a hang guard on the resumption tokens
        root = etree.fromstring(requests.get(f"{base_url}/csw/oaipmh", params=params, timeout=30).content)
        assert not root.xpath("//oai:error", namespaces=OAI), etree.tostring(root)[:300]
        found += root.xpath("//oai:header/oai:identifier/text()", namespaces=OAI)
        token = root.xpath("//oai:resumptionToken/text()", namespaces=OAI)
        if not token or len(found) >= len(public_ids):
            break
        # pycsw 2.6 wants the prefix beside the token (the protocol would not)
        params = {"verb": "ListIdentifiers", "resumptionToken": token[0], "metadataPrefix": "iso19139"}
    assert sorted(found) == sorted(public_ids)


@pytest.fixture(scope="module")
def city(db) -> tuple[tuple[float, float, float, float], list[tuple[int, int, bool]]]:
    """The city's box, and pixels of a SIZE² map of it (row, col, inside the
    city) that lie at least two pixels away from its boundary."""
    minx, miny, maxx, maxy = db.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                        "(SELECT ST_Extent(geom) e FROM base.xzq WHERE xzqjb = '县') s").fetchone()
    dx, dy = (maxx - minx) / SIZE, (maxy - miny) / SIZE
    rows = db.execute(
        "WITH c AS (SELECT ST_Union(geom) g FROM base.xzq WHERE xzqjb = '县'), "
        "p AS (SELECT r, k, ST_SetSRID(ST_MakePoint(%s + (k + 0.5) * %s, %s - (r + 0.5) * %s), 4490) pt "
        "FROM generate_series(0, %s - 1, 8) r, generate_series(0, %s - 1, 8) k) "
        "SELECT r, k, ST_Covers(c.g, p.pt) FROM p, c WHERE NOT ST_DWithin(ST_Boundary(c.g), p.pt, %s)",
        (minx, dx, maxy, dy, SIZE, SIZE, 2 * max(dx, dy))).fetchall()
    return (minx, miny, maxx, maxy), rows


def assert_city_drawn(alpha: np.ndarray, pixels) -> None:
    wrong = [(r, k) for r, k, inside in pixels if (alpha[r, k] > 0) != inside]
    assert sum(inside for *_, inside in pixels) > 20 and not wrong, f"{len(wrong)} pixels wrong: {wrong[:5]}"


@pytest.mark.conformance("WMS 1.3.0", client="GDAL 3.12 WMS driver (rasterio)")
def test_gdal_wms_draws_the_zoning_over_the_city_only(base_url, city):
    (minx, miny, maxx, maxy), pixels = city
    # WMS 1.3 with EPSG:4490: latitude first in BBOX
    url = (f"WMS:{base_url}/mapproxy/service?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=GHYDYH"
           f"&CRS=EPSG:4490&BBOX={miny},{minx},{maxy},{maxx}&FORMAT=image/png&TRANSPARENT=TRUE")
    with rasterio.open(url) as wms:
        alpha = wms.read(4, out_shape=(SIZE, SIZE), window=wms.window(minx, miny, maxx, maxy))
    assert_city_drawn(alpha, pixels)


@pytest.mark.conformance("WMS 1.3.0", client="OWSLib WMS + Debian gdalinfo (GDAL 3.6)")
def test_owslib_wms_capabilities_and_debian_gdalinfo(base_url, layers, tmp_path, city):
    wms = WebMapService(f"{base_url}/mapproxy/service", version="1.3.0", timeout=60)
    assert {x.id for x in layers if x.is_public} <= set(wms.contents)
    assert not {x.id for x in layers if not x.is_public} & set(wms.contents)
    (minx, miny, maxx, maxy), _ = city
    png = wms.getmap(layers=["GHYDYH"], styles=[""], srs="EPSG:4490", bbox=(minx, miny, maxx, maxy),
                     size=(SIZE, SIZE), format="image/png", transparent=True).read()
    (tmp_path / "map.png").write_bytes(png)
    out = subprocess.run(["gdalinfo", "-stats", str(tmp_path / "map.png")], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert f"Size is {SIZE}, {SIZE}" in out and "Band 4" in out and "STATISTICS_MAXIMUM=255" in out


@pytest.mark.conformance("WMTS 1.0.0", client="GDAL 3.12 WMTS driver (rasterio) + OWSLib WMTS")
def test_gdal_wmts_draws_the_zoning_over_the_city_only(base_url, city):
    capabilities = f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml"
    wmts = WebMapTileService(capabilities, timeout=60)
    assert "GHYDYH" in wmts.contents and "CGCS2000" in wmts.tilematrixsets
    (minx, miny, maxx, maxy), pixels = city
    with rasterio.open(f"WMTS:{capabilities},layer=GHYDYH,tilematrixset=CGCS2000") as layer:
        assert layer.crs.to_epsg() == 4490
        alpha = layer.read(4, out_shape=(SIZE, SIZE), window=layer.window(minx, miny, maxx, maxy))
    assert_city_drawn(alpha, pixels)


@pytest.mark.conformance("WMTS 1.0.0", client="Debian gdalinfo (GDAL 3.6) WMTS driver")
def test_debian_gdalinfo_opens_the_wmts_layer(base_url):
    capabilities = f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml"
    out = subprocess.run(["gdalinfo", f"WMTS:{capabilities},layer=GHYDYH,tilematrixset=WebMercatorQuad"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Driver: WMTS" in out and "Pseudo-Mercator" in out and "Band 4" in out
