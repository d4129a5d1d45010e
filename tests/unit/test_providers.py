import math

import pytest

from onemap.ogc.providers import output_srid_and_flip


@pytest.mark.parametrize("uri,expected", [
    ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", (4326, False)),
    ("http://www.opengis.net/def/crs/EPSG/0/4490", (4490, True)),   # latitude first
    ("http://www.opengis.net/def/crs/EPSG/0/4546", (4546, True)),   # northing first
    ("http://www.opengis.net/def/crs/EPSG/0/4525", (4525, True)),
    ("http://www.opengis.net/def/crs/EPSG/0/3857", (3857, False)),  # easting first
])
def test_output_srid_and_axis_order(uri, expected):
    assert output_srid_and_flip(uri) == expected


@pytest.mark.parametrize(("z", "y"), [(7, 53), (12, 1700), (14, 6780), (9, 300), (3, 1)])
def test_the_simplification_stays_within_a_quarter_of_the_tiles_shortest_unit(z, y):
    """A tile unit in degrees of latitude is shortest at the tile's poleward
    edge: the tolerance is a quarter of it, so no vertex moves by more."""
    from onemap.ogc.providers import simplify_tolerance

    def latitude(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / 2 ** z))))

    # the unit rows at both edges of the tile, in degrees of latitude
    edges = [abs(latitude(y + k / 4096) - latitude(y + (k + 1) / 4096)) for k in (0, 4095)]
    assert simplify_tolerance(z, y) == pytest.approx(min(edges) / 4, rel=1e-3)
    assert simplify_tolerance(z, y) <= 360 / 2 ** z / 4096 / 4  # and within a quarter unit of longitude


def test_the_tile_statement_clips_each_row_once():
    # flattened, the outer `geom IS NOT NULL` is pushed into the index scan
    # and ST_AsMVTGeom runs twice a row; the fence (OFFSET 0) keeps it once
    from onemap.core.inforce import in_force
    from onemap.ogc.providers import tile_statement

    for current in ("", f" AND {in_force()}"):
        statement = tile_statement("plan", "ghydyh", '"id", "ydyhdm"', current)
        assert statement.count("ST_AsMVTGeom(") == 1
        inner, outer = statement.rsplit(") t ", 1)
        assert inner.endswith(f"{current} OFFSET 0") and outer == "WHERE t.geom IS NOT NULL"
