"""The province's WMS layers through our maps (integration.province_maps):
the province is stood in by a real WMS on loopback drawing its ecological
protection red line (integration.standins, PROVINCE_LINES); a gateway of
the stack's code configured for it (tests.integration.partners) serves the
layer SJ_STBHHX in WMS and WMTS. A pixel of ours is the pixel the province
draws there; the layer is internal (anonymous: 401, a public-only role:
403, not in their capabilities); with the province stopped its layer
answers a bilingual 502 at once, the rest of the map still draws, and
health reports the province's maps down as a partner's outage."""

from __future__ import annotations

import io
import math

import pytest
import requests
from lxml import etree
from PIL import Image

from integration.config import IntegrationConfig
from integration.province_maps import health
from integration.standins import PROVINCE_LINES, province_map
from onemap.core.settings import Settings
from tests.conftest import auth
from tests.integration.partners import partner_stack, stop  # noqa: F401 - partner_stack: a fixture

LAYER = "SJ_STBHHX"
R = 6378137.0  # Web Mercator's sphere
ZOOM = 11


def mercator(lon: float, lat: float) -> tuple[float, float]:
    return math.radians(lon) * R, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * R


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, tuple[float, float, float, float]]:
    """The WebMercatorQuad tile (column, row from the top) holding a point, and its box."""
    size = 2 * math.pi * R / 2 ** z
    x, y = mercator(lon, lat)
    col, row = int((x + math.pi * R) // size), int((math.pi * R - y) // size)
    west, north = -math.pi * R + col * size, math.pi * R - row * size
    return col, row, (west, north - size, west + size, north)


def pixel(png: bytes, xy: tuple[int, int]) -> tuple[int, ...]:
    return Image.open(io.BytesIO(png)).convert("RGBA").getpixel(xy)


def inside() -> tuple[float, float]:
    """A point well inside the province's first polygon: its vertices' mean."""
    theirs = IntegrationConfig.load(Settings.from_env().config_dir).partners["province"]["map_layers"][LAYER]["layer"]
    ring = PROVINCE_LINES[theirs][0]
    return sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)


@pytest.fixture(scope="module")
def staff(tokens):
    return auth(tokens["staff"])


def test_a_pixel_of_the_provinces_layer_is_what_the_province_draws(partner_stack, staff):  # noqa: F811
    assert health() == "1 layers answer"
    lon, lat = inside()
    col, row, box = tile_of(lon, lat, ZOOM)
    tile = requests.get(f"{partner_stack.url}/mapproxy/wmts/{LAYER}/WebMercatorQuad/{ZOOM}/{col}/{row}.png",
                        headers=staff, timeout=120)
    assert tile.status_code == 200 and tile.headers["Content-Type"] == "image/png", tile.text[:300]
    drawn = province_map({"request": "getmap", "layers": "STBHHX", "srs": "EPSG:3857", "width": "256",
                          "height": "256", "bbox": ",".join(map(str, box))})
    x, y = mercator(lon, lat)
    at = (int((x - box[0]) / (box[2] - box[0]) * 256), int((box[3] - y) / (box[3] - box[1]) * 256))
    assert pixel(tile.content, at) == pixel(drawn, at)
    assert pixel(drawn, at)[3] == 255  # inside the line: drawn, not transparent
    corner_free = [(px, py) for px in (0, 255) for py in (0, 255) if pixel(drawn, (px, py))[3] == 0]
    for xy in corner_free:  # and nothing where the province draws nothing
        assert pixel(tile.content, xy)[3] == 0

    # WMS 1.3.0 in CGCS2000 (latitude first) over a box around the point, from the CGCS2000 grid
    bbox = (lat - 0.02, lon - 0.02, lat + 0.02, lon + 0.02)
    wms = requests.get(f"{partner_stack.url}/mapproxy/service", headers=staff, timeout=120, params={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": LAYER, "STYLES": "",
        "CRS": "EPSG:4490", "BBOX": ",".join(map(str, bbox)), "WIDTH": 64, "HEIGHT": 64,
        "FORMAT": "image/png", "TRANSPARENT": "TRUE"})
    assert wms.status_code == 200 and wms.headers["Content-Type"] == "image/png", wms.text[:300]
    drawn = province_map({"request": "getmap", "version": "1.3.0", "layers": "STBHHX", "crs": "EPSG:4490",
                          "width": "64", "height": "64", "bbox": ",".join(map(str, bbox))})
    assert pixel(wms.content, (32, 32)) == pixel(drawn, (32, 32)) and pixel(drawn, (32, 32))[3] == 255


def test_the_layer_is_the_provinces_and_internal(partner_stack, staff, tokens):  # noqa: F811
    caps = requests.get(f"{partner_stack.url}/mapproxy/service", headers=staff, timeout=60,
                        params={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"})
    assert caps.status_code == 200
    ns = {"wms": "http://www.opengis.net/wms"}
    titles = {el.findtext("wms:Name", namespaces=ns): el.findtext("wms:Title", namespaces=ns)
              for el in etree.fromstring(caps.content).iterfind(".//wms:Layer", ns)}
    assert "省级平台" in titles[LAYER] and "provincial platform" in titles[LAYER]
    tile = f"{partner_stack.url}/mapproxy/wmts/{LAYER}/WebMercatorQuad/{ZOOM}/0/0.png"
    getmap = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": LAYER, "STYLES": "",
              "CRS": "EPSG:3857", "BBOX": "12380000,3240000,12640000,3420000", "WIDTH": 64, "HEIGHT": 64,
              "FORMAT": "image/png"}
    for headers, status in (({}, 401), (auth(tokens["egov"]), 403)):  # egov reads public layers only
        assert requests.get(tile, headers=headers, timeout=60).status_code == status
        refused = requests.get(f"{partner_stack.url}/mapproxy/service", params=getmap, headers=headers, timeout=60)
        assert refused.status_code == status and refused.json()["message_zh"]
        public_caps = requests.get(f"{partner_stack.url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml",
                                   headers=headers, timeout=60)
        assert public_caps.status_code == 200 and LAYER.encode() not in public_caps.content


def test_with_the_province_down_its_layer_errs_clearly_and_the_map_still_draws(partner_stack, staff):  # noqa: F811
    stop(partner_stack.province)  # connections refused from now on
    lon, lat = inside()
    col, row, _ = tile_of(lon, lat, ZOOM + 1)
    down = requests.get(f"{partner_stack.url}/mapproxy/wmts/{LAYER}/WebMercatorQuad/{ZOOM + 1}/{col}/{row}.png",
                        headers=staff, timeout=600)  # a hang guard: the source's own timeout is 5 s
    assert down.status_code == 502 and "xml" in down.headers["Content-Type"]
    assert "合作方" in down.content.decode() and "No response from URL" in down.content.decode()
    mixed = requests.get(f"{partner_stack.url}/mapproxy/service", headers=staff, timeout=600, params={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": f"GHYDYH,{LAYER}", "STYLES": "",
        "CRS": "EPSG:3857", "BBOX": "12380000,3240000,12640000,3420000", "WIDTH": 256, "HEIGHT": 256,
        "FORMAT": "image/png"})
    assert mixed.status_code == 200 and mixed.headers["Content-Type"] == "image/png"  # our layer, and a note
    ours = requests.get(f"{partner_stack.url}/mapproxy/wmts/GHYDYH/WebMercatorQuad/{ZOOM}/{col // 2}/{row // 2}.png",
                        headers=staff, timeout=600)
    assert ours.status_code == 200 and ours.headers["Content-Type"] == "image/png"
    with pytest.raises(RuntimeError, match="ConnectionError"):
        health()
