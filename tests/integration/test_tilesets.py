"""Tilesets that describe themselves: extent, limits per zoom and fields, so
GDAL's OGC API driver (3.12, as in the pyogrio wheel) opens our vector tiles
without sampling tiles at random — and reads the features in them."""

from __future__ import annotations

import math

import pyogrio.raw
import pytest
import requests

TILESET = "{ogc}/collections/{layer}/tiles/WebMercatorQuad"


def _tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    n = 2 ** zoom
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return int((lon + 180) / 360 * n), int(y * n)


@pytest.mark.parametrize("layer, table", [("XZQ", "base.xzq"), ("DZZHD", "base.dzzhd")])
def test_the_tileset_states_extent_limits_and_fields(ogc_url, db, layer, table):
    doc = requests.get(TILESET.format(ogc=ogc_url, layer=layer), params={"f": "json"}, timeout=30).json()
    lon, lat = db.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM {table} "
                          "ORDER BY id LIMIT 1) s").fetchone()
    limits = {lim["tileMatrix"]: lim for lim in doc["tileMatrixSetLimits"]}
    for zoom in (0, 8, 14):
        col, row = _tile_of(lon, lat, zoom)
        lim = limits[str(zoom)]
        assert lim["minTileCol"] <= col <= lim["maxTileCol"] and lim["minTileRow"] <= row <= lim["maxTileRow"]
    assert doc["boundingBox"]["crs"].endswith("/3857")
    columns = {r[0] for r in db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = %s "
        "AND column_name <> 'geom'", (table,))}
    [described] = doc["layers"]
    assert set(described["propertiesSchema"]["properties"]) == columns
    tilejson = requests.get(TILESET.format(ogc=ogc_url, layer=layer), params={"f": "tilejson"}, timeout=30).json()
    minx, miny, maxx, maxy = tilejson["bounds"]
    assert minx <= lon <= maxx and miny <= lat <= maxy
    assert tilejson["minzoom"] == 0 and set(tilejson["vector_layers"][0]["fields"]) == columns


def test_gdal_reads_features_from_the_vector_tiles(ogc_url, db):
    url = f"OGCAPI:{ogc_url}/collections/XZQ"
    codes = {r[0] for r in db.execute("SELECT xzqdm FROM base.xzq")}
    meta, _, geometries, fields = pyogrio.raw.read(url, layer="Zoom level 0")
    names = list(meta["fields"])
    assert "xzqdm" in names and len(geometries) > 0
    assert set(fields[names.index("xzqdm")]) <= codes
    # GDAL 3.12 takes the collection's CRS84 bbox as Web Mercator metres for
    # vector tiles (it reprojects it only for raster tiles), so beyond zoom 1
    # the client states the extent itself, as its open options allow.
    doc = requests.get(TILESET.format(ogc=ogc_url, layer="XZQ"), params={"f": "json"}, timeout=30).json()
    (minx, miny), (maxx, maxy) = doc["boundingBox"]["lowerLeft"], doc["boundingBox"]["upperRight"]
    meta, _, geometries, fields = pyogrio.raw.read(url, layer="Zoom level 10", MINX=str(minx), MINY=str(miny),
                                                   MAXX=str(maxx), MAXY=str(maxy))
    names = list(meta["fields"])
    assert set(fields[names.index("xzqdm")]) == codes  # every admin unit, from the tiles
