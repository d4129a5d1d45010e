"""The web viewer at / in a real headless Chromium (WebGL by SwiftShader),
driven by Selenium (tests/integration/browser.py): the Chinese layer list, the
planned land use drawn from our vector tiles in its style colour, the
attribute popup, the token that brings the internal layers, bilingual errors,
and no request leaving the stack."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from tests.integration.browser import Browser, browser  # noqa: F401 (the fixture)
from tests.integration.parcels import assert_colour, pixel_at, zoom_for

READY = "return document.body.dataset.state !== 'loading' && document.body.dataset.state"  # or 'error'


def _layer_list(page: Browser) -> dict[str, str]:
    return page.run("return Object.fromEntries([...document.querySelectorAll('#layers li[data-layer]')]"
                    ".map(li => [li.dataset.layer, li.querySelector('label').textContent.trim()]))")


def _error(page: Browser) -> str | None:
    return page.run("const e = document.getElementById('error'); return e.hidden ? null : e.textContent")


def _map_layers(layers, public_only: bool) -> set[str]:
    """The registry layers (each has a style) the collection list shows to
    anonymous callers, or to staff."""
    return {layer.id for layer in layers if layer.is_public or not public_only}


def test_viewer_draws_the_public_layers_in_their_style(base_url, browser, layers, plan_parcel):  # noqa: F811
    zoom = zoom_for(plan_parcel)
    browser.open(f"{base_url}/#map={zoom:.2f}/{plan_parcel.lat:.6f}/{plan_parcel.lon:.6f}")
    assert browser.until(READY) == "ready", _error(browser)
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


def test_token_brings_the_internal_layers_and_errors_are_bilingual(base_url, browser, layers, tokens):  # noqa: F811
    browser.open(f"{base_url}/")
    assert browser.until(READY) == "ready", _error(browser)
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
    assert browser.until(READY) == "ready", _error(browser)
    assert set(_layer_list(browser)) == _map_layers(layers, public_only=False)

    browser.run(submit, "not-a-token")
    assert browser.until(READY) == "error"
    assert _error(browser) == "访问令牌无效、已过期或已吊销\nThe access token is unknown, expired or revoked"
    assert _layer_list(browser) == {}
