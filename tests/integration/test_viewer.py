"""The web viewer at / in a real headless Chromium (WebGL by SwiftShader),
driven over WebDriver by Debian's chromedriver: the Chinese layer list, the
planned land use drawn from our vector tiles in its style colour, the
attribute popup, the token that brings the internal layers, bilingual errors,
and no request leaving the stack."""

from __future__ import annotations

import base64
import math
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.parcels import Parcel, assert_colour, pixel_at

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# software WebGL: there is no GPU on a server or in CI
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--window-size=1024,768"]
READY_TIMEOUT_S = 600  # a hang guard, not a time limit: SwiftShader on a busy 2-core machine is slow
TILE_SIZE_M_AT_ZOOM_0 = 2 * math.pi * 6_378_137


class Browser:
    """A WebDriver session: just the commands the tests use."""

    def __init__(self, driver_url: str, downloads: Path | None = None) -> None:
        self.driver_url = driver_url
        options: dict[str, Any] = {"binary": CHROMIUM, "args": CHROMIUM_ARGS}
        if downloads is not None:  # files the page saves land there, unasked
            options["prefs"] = {"download.default_directory": str(downloads), "download.prompt_for_download": False,
                                "profile.default_content_setting_values.automatic_downloads": 1}
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = f"/session/{session['sessionId']}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = requests.request(method, self.driver_url + path, json=body, timeout=READY_TIMEOUT_S)
        value = r.json()["value"]
        assert r.ok, f"WebDriver {method} {path}: {value}"
        return value

    def open(self, url: str) -> None:
        self._call("POST", f"{self.session}/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        return self._call("POST", f"{self.session}/execute/sync", {"script": script, "args": list(args)})

    def wait_for_map(self) -> str:
        """'ready' once the map is idle with every layer drawn, or 'error'."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.run("return document.body.dataset.state")
            if state != "loading":
                return state
            time.sleep(0.5)
        pytest.fail(f"the viewer did not finish loading in {READY_TIMEOUT_S} s")

    def click(self, x: int, y: int) -> None:
        self._call("POST", f"{self.session}/actions", {"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "x": x, "y": y, "origin": "viewport"},
                        {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})

    def upload(self, selector: str, path: str) -> None:
        """Choose a file in a file input, as a user does."""
        element = self._call("POST", f"{self.session}/element", {"using": "css selector", "value": selector})
        self._call("POST", f"{self.session}/element/{next(iter(element.values()))}/value", {"text": path})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", f"{self.session}/screenshot"))

    def close(self) -> None:
        self._call("DELETE", self.session)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chromium(downloads: Path | None = None) -> Iterator[Browser]:
    """A headless Chromium session behind its own chromedriver."""
    port = _free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/status", timeout=5).json()["value"]["ready"]:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        session = Browser(url, downloads)
        yield session
        session.close()
    finally:
        driver.terminate()
        driver.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as session:
        yield session


def _layer_list(browser: Browser) -> dict[str, str]:
    return browser.run("return Object.fromEntries([...document.querySelectorAll('#layers li[data-layer]')]"
                       ".map(li => [li.dataset.layer, li.querySelector('label').textContent.trim()]))")


def _error(browser: Browser) -> str | None:
    return browser.run("const e = document.getElementById('error'); return e.hidden ? null : e.textContent")


def _map_layers(layers, public_only: bool) -> set[str]:
    """The registry layers (each has a style) the collection list shows to
    anonymous callers, or to staff."""
    return {layer.id for layer in layers if layer.is_public or not public_only}


def _zoom_for(parcel: Parcel) -> float:
    """A zoom at which the parcel's inscribed circle is 40 pixels across."""
    radius_m = parcel.radius_deg * 111_320
    metres_per_pixel = radius_m / 20
    return min(18.0, math.log2(TILE_SIZE_M_AT_ZOOM_0 * math.cos(math.radians(parcel.lat)) / 256 / metres_per_pixel))


def test_viewer_draws_the_public_layers_in_their_style(base_url, browser, layers, plan_parcel):
    zoom = _zoom_for(plan_parcel)
    browser.open(f"{base_url}/#map={zoom:.2f}/{plan_parcel.lat:.6f}/{plan_parcel.lon:.6f}")
    assert browser.wait_for_map() == "ready", _error(browser)
    assert browser.run("return document.title") == "一张图 One Map"
    listed = _layer_list(browser)
    assert set(listed) == _map_layers(layers, public_only=True)
    by_id = {layer.id: layer for layer in layers}
    for layer_id, text in listed.items():
        assert text == f"{by_id[layer_id].title.zh} {by_id[layer_id].title.en}"

    canvas = browser.run("const r = document.querySelector('#map canvas').getBoundingClientRect();"
                         "return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]")
    png = browser.screenshot()
    assert_colour(pixel_at(png, *canvas), plan_parcel.color, f"viewer GHYDYH {plan_parcel.code}")

    browser.click(*canvas)
    # a heading and an attribute table per feature under the click
    popup = browser.run("return [...document.querySelectorAll('.maplibregl-popup-content table')].map(t =>"
                        " [t.previousElementSibling.textContent,"
                        "  Object.fromEntries([...t.rows].map(r => [r.cells[0].textContent, r.cells[1].textContent]))])")
    parcels = [fields for heading, fields in popup if heading.startswith("规划用地用海 Planned land and sea use")]
    assert [fields["ydyhdm"] for fields in parcels] == [plan_parcel.code], popup

    # every request of the page went to the stack: no CDN, basemap or fonts
    origins = set(browser.run("return performance.getEntriesByType('resource').map(e => e.name)"
                              ".map(u => new URL(u).origin)"))
    assert origins == {"{0.scheme}://{0.netloc}".format(urlsplit(base_url))}


def test_token_brings_the_internal_layers_and_errors_are_bilingual(base_url, browser, layers, tokens):
    browser.open(f"{base_url}/")
    assert browser.wait_for_map() == "ready", _error(browser)
    assert set(_layer_list(browser)) == _map_layers(layers, public_only=True)
    # the whole city in view: the address now holds the fitted view
    view = browser.run("return new URLSearchParams(location.hash.slice(1)).get('map')")
    zoom, lat, lon = (float(v) for v in view.split("/"))
    xzq = next(layer for layer in layers if layer.id == "XZQ")
    extent = requests.get(f"{base_url}/ogc/collections/{xzq.id}", params={"f": "json"},
                          timeout=60).json()["extent"]["spatial"]["bbox"][0]
    assert extent[0] < lon < extent[2] and extent[1] < lat < extent[3] and 6 < zoom < 11

    submit = ("document.getElementById('token').value = arguments[0];"
              "document.getElementById('token-form').requestSubmit()")
    browser.run(submit, tokens["staff"])
    assert browser.wait_for_map() == "ready", _error(browser)
    assert set(_layer_list(browser)) == _map_layers(layers, public_only=False)

    browser.run(submit, "not-a-token")
    assert browser.wait_for_map() == "error"
    assert _error(browser) == "访问令牌无效、已过期或已吊销\nThe access token is unknown, expired or revoked"
    assert _layer_list(browser) == {}
