"""Style documents served by the gateway and linked from each collection;
`onemap tiles seed` writing tiles that WMTS then serves from disk."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import mapbox_vector_tile
import requests
from lxml import etree

from onemap.core.settings import Settings
from onemap.maps.seed import tile_dir
from tests.conftest import auth


def test_collections_link_their_styles(ogc_url, base_url, tokens, layers):
    for layer in layers:
        headers = {} if layer.is_public else auth(tokens["staff"])
        body = requests.get(f"{ogc_url}/collections/{layer.id}", params={"f": "json"}, headers=headers,
                            timeout=60).json()
        sheets = {link["href"]: link["type"] for link in body["links"] if link["rel"] == "stylesheet"}
        assert sheets == {
            f"{base_url}/styles/{layer.style}.sld?layer={layer.id}": "application/vnd.ogc.sld+xml;version=1.1",
            f"{base_url}/styles/{layer.style}.json?layer={layer.id}": "application/vnd.maplibre.style+json"}
        for href in sheets:
            assert requests.get(href, headers=headers, timeout=60).status_code == 200
        # a style several layers share draws each of them from its own tiles
        maplibre = requests.get(f"{base_url}/styles/{layer.style}.json?layer={layer.id}", headers=headers,
                                timeout=60).json()
        assert list(maplibre["sources"]) == [layer.id]
        assert {x["source-layer"] for x in maplibre["layers"] if "source-layer" in x} == {layer.table_name}


def test_sld_and_maplibre_documents(base_url, tokens, db):
    sld = requests.get(f"{base_url}/styles/landuse-ghydyh.sld", timeout=60)
    assert sld.status_code == 200 and sld.headers["Content-Type"].startswith("application/vnd.ogc.sld+xml")
    root = etree.fromstring(sld.content)
    assert root.get("version") == "1.1.0"
    # the MapLibre style's source really serves tiles with the source layer it names
    style = requests.get(f"{base_url}/styles/landuse-dltb.json", headers=auth(tokens["staff"]), timeout=60).json()
    source = style["sources"]["DLTB"]
    lon, lat = db.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM base.dltb "
                          "LIMIT 1) s").fetchone()
    z = 12
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * 2**z)
    tile = requests.get(source["tiles"][0].format(z=z, x=x, y=y), headers=auth(tokens["staff"]), timeout=60)
    assert tile.status_code == 200
    decoded = mapbox_vector_tile.decode(tile.content)
    source_layers = {item["source-layer"] for item in style["layers"]}
    assert source_layers == {"dltb"} and "dltb" in decoded
    codes = {f["properties"]["dlbm"] for f in decoded["dltb"]["features"]}
    filtered = {item["filter"][2] for item in style["layers"] if item["filter"][0] == "=="}
    assert codes <= filtered  # every code in the data has its own rule


def test_styles_follow_layer_access(base_url, tokens):
    assert requests.get(f"{base_url}/styles/landuse-dltb.sld", timeout=60).status_code == 401
    assert requests.get(f"{base_url}/styles/stbhhx.json", headers=auth(tokens["egov"]), timeout=60).status_code == 403
    r = requests.get(f"{base_url}/styles/no-such-style.sld", timeout=60)
    assert r.status_code == 404 and r.json()["field"] == "styleId" and r.json()["message_zh"]
    r = requests.get(f"{base_url}/styles/xzq.pdf", timeout=60)
    assert r.status_code == 400 and r.json()["field"] == "format"


def _onemap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "onemap"), *args],
                          capture_output=True, text=True, timeout=900, env=os.environ.copy())


def test_seeding_writes_tiles_that_wmts_serves(base_url):
    settings = Settings.from_env()
    done = _onemap("tiles", "seed", "--layer", "XZQ", "--levels", "7-9", "--grid", "WebMercatorQuad")
    assert done.returncode == 0, done.stderr
    assert "tiles/s" in done.stdout and "[##############################] 100.0%" in done.stdout
    level = tile_dir(settings, "XZQ_cache", "WebMercatorQuad") / "9"
    files = sorted(level.rglob("*.png"))
    assert files, f"no tiles under {level}"
    x, y = int(files[0].parent.name), int(files[0].stem)
    served = requests.get(f"{base_url}/mapproxy/wmts/XZQ/WebMercatorQuad/9/{x}/{y}.png", timeout=60)
    assert served.status_code == 200 and served.content == files[0].read_bytes()
    # a second run finds nothing missing
    again = _onemap("tiles", "seed", "--layer", "XZQ", "--levels", "7-9", "--grid", "WebMercatorQuad")
    assert again.returncode == 0 and "seeded 0 tiles" in again.stdout


def test_seeding_refuses_bad_input():
    for args, words in [(("--layer", "NOPE", "--levels", "1-2"), "不存在"),
                        (("--layer", "XZQ", "--levels", "9-2"), "levels must be"),
                        (("--layer", "XZQ", "--levels", "1-2", "--grid", "UTM"), "unknown grids")]:
        done = _onemap("tiles", "seed", *args)
        assert done.returncode != 0 and words in done.stderr, done.stderr
