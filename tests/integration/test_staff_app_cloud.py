"""The spatio-temporal cloud's basemap in the staff application, in a real
headless Chromium: on a gateway of the stack's code whose cloud URL points at
a stand-in started here (tests/integration/partners.py: the stack's own
gateway, which other tests share, is neither reconfigured nor reloaded), the
application lists the cloud's basemaps beside the city's; a user who
switches to the cloud's vector basemap sees the stand-in's tiles (a pixel in
their ground colour, where the city base draws its own), and the address
(`base=cloud-vec`) brings them back on reload."""

from __future__ import annotations

import math
from pathlib import Path

import requests

from integration.standins import CLOUD_GROUND
from onemap.core.registry import load_layers
from tests.integration.browser import Browser, browser  # noqa: F401 (the fixture)
from tests.integration.parcels import assert_colour, pixel_at
from tests.integration.partners import partner_stack  # noqa: F401 (the fixture)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# MapLibre draws 256-pixel raster tiles of zoom z + 1 one to one at map zoom z:
# the map centred on a tile's centre shows that tile's middle at the canvas
# centre, away from the text the stand-in writes in each tile's top left corner
ZOOM = 10
STATE = "return document.body.dataset.state !== 'loading' && document.body.dataset.state"


def _tile_centre(lon: float, lat: float, z: int) -> tuple[float, float]:
    """(lon, lat) of the middle of the WebMercatorQuad tile of zoom z holding (lon, lat)."""
    n = 2 ** z
    x = math.floor((lon + 180) / 360 * n) + 0.5
    y = math.floor((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n) + 0.5
    return x / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def _ready(page: Browser) -> None:
    assert page.until(STATE) == "ready", page.run("return document.getElementById('error').textContent")


def _centre_pixel(page: Browser) -> tuple[int, int, int, int]:
    centre = page.run("const r = document.querySelector('#map canvas').getBoundingClientRect();"
                      "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]")
    return pixel_at(page.screenshot(), *centre)


def _choose(page: Browser, basemap: str) -> None:
    page.run("document.querySelector(`#basemaps input[value='${arguments[0]}']`).click()", basemap)
    _ready(page)


def test_the_user_switches_to_the_cloud_basemap_and_the_address_keeps_it(partner_stack, plan_parcel, browser):  # noqa: F811
    lon, lat = _tile_centre(plan_parcel.lon, plan_parcel.lat, ZOOM + 1)
    every_layer = ",".join(layer.id for layer in load_layers())  # off: the basemap alone under the pixel
    browser.open(f"{partner_stack.url}/#map={ZOOM}/{lat:.6f}/{lon:.6f}&hidden={every_layer}")
    _ready(browser)
    listed = browser.run("return [...document.querySelectorAll('#basemaps label')].map(l => l.dataset.basemap)")
    served = requests.get(f"{partner_stack.url}/basemaps.json", timeout=30).json()["basemaps"]
    assert listed == [b["id"] for b in served] and {"city", "cloud-vec", "cloud-img"} <= set(listed)

    _choose(browser, "city")
    city = _centre_pixel(browser)
    _choose(browser, "cloud-vec")
    address = browser.run("return location.href")
    assert "base=cloud-vec" in address
    cloud = _centre_pixel(browser)
    assert_colour(cloud, CLOUD_GROUND["vec"], "the cloud stand-in's vector tile")
    assert max(abs(a - b) for a, b in zip(cloud[:3], city[:3], strict=True)) > 20, (cloud, city)
    assert browser.run("return performance.getEntriesByType('resource')"
                       ".some(e => e.name.includes('/mapproxy/wmts/CLOUD_VEC/'))")  # through our MapProxy
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "staff-cloud-basemap.png").write_bytes(browser.screenshot())

    browser.open("about:blank")  # a new page load of the same address, not a change of its hash
    browser.open(address)
    _ready(browser)
    assert browser.run("return document.querySelector(\"#basemaps input[value='cloud-vec']\").checked")
    assert_colour(_centre_pixel(browser), CLOUD_GROUND["vec"], "the cloud basemap after reload")
