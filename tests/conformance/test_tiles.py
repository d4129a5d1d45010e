"""OGC API Tiles (vector, MVT) through GDAL 3.12: the OGC API driver opens
the tileset list and a tileset, and the MVT driver reads one tile, whose
features are exactly the database's features inside the tile's extent."""

from __future__ import annotations

import math

import pyogrio
import pyogrio.raw
import pytest

TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
HALF_WORLD = 20037508.342789244  # Web Mercator


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    n = 2 ** zoom
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return int((lon + 180) / 360 * n), int(y * n)


@pytest.mark.conformance(TILES + "core", TILES + "mvt", client="GDAL 3.12 MVT driver (pyogrio)")
@pytest.mark.parametrize("zoom", [10, 13])
def test_a_tile_holds_the_features_inside_its_extent(ogc_url, db, zoom):
    lon, lat = db.execute("SELECT ST_X(geom), ST_Y(geom) FROM base.dzzhd ORDER BY id LIMIT 1").fetchone()
    col, row = tile_of(lon, lat, zoom)
    size = 2 * HALF_WORLD / 2 ** zoom
    minx, maxy = -HALF_WORLD + col * size, HALF_WORLD - row * size
    url = f"/vsicurl/{ogc_url}/collections/DZZHD/tiles/WebMercatorQuad/{zoom}/{row}/{col}?f=mvt"
    meta, _, geometries, fields = pyogrio.raw.read(url, X=str(col), Y=str(row), Z=str(zoom))
    assert meta["crs"] == "EPSG:3857"
    in_tile = {r[0] for r in db.execute(
        "SELECT id FROM base.dzzhd WHERE ST_Intersects(ST_Transform(geom, 3857), "
        "ST_MakeEnvelope(%s, %s, %s, %s, 3857))", (minx, maxy - size, minx + size, maxy))}
    assert in_tile and set(fields[list(meta["fields"]).index("id")]) == in_tile
    assert len(geometries) == len(in_tile)


@pytest.mark.conformance(TILES + "tilesets-list", TILES + "tileset", TILES + "geodata-tilesets",
                         client="GDAL 3.12 OGC API driver (pyogrio)")
def test_gdal_opens_the_collection_tilesets(ogc_url, db):
    url = f"OGCAPI:{ogc_url}/collections/DZZHD"
    assert "Zoom level 0" in [name for name, _ in pyogrio.list_layers(url)]
    meta, _, geometries, fields = pyogrio.raw.read(url, layer="Zoom level 0")
    expected = {r[0] for r in db.execute("SELECT zhdbh FROM base.dzzhd")}
    # at zoom 0 the whole city is one tile: every point, none invented
    assert set(fields[list(meta["fields"]).index("zhdbh")]) == expected
