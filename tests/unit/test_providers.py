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
