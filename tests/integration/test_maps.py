"""WMS / WMTS / TMS at /mapproxy with real clients (OWSLib, requests): the
capabilities by role, maps in EPSG:3857 and EPSG:4490 whose pixels have the
style colour of the parcel under them, GetFeatureInfo, access and bad input."""

from __future__ import annotations

import io
import math

import numpy as np
import pyproj
import pytest
import requests
from lxml import etree
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService
from PIL import Image

from onemap.maps.service import requested_names
from onemap.styles.model import load_style
from tests.conftest import auth
from tests.integration.parcels import Parcel, assert_colour, pixel_at, tile_of

INTERNAL_ONLY = {"DLTB", "STBHHX", "YJJBNT", "CZKFBJ", "JSXM", "SX"}
TO_3857 = pyproj.Transformer.from_crs(4490, 3857, always_xy=True)


@pytest.fixture(scope="module")
def wms_url(base_url) -> str:
    return f"{base_url}/mapproxy/service"


@pytest.fixture(scope="module")
def wmts_url(base_url) -> str:
    return f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml"


def _assert_not_blank(png: bytes) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert pixels.shape == (256, 256, 4)
    opaque = int((pixels[:, :, 3] > 0).sum())
    colours = len(np.unique(pixels.reshape(-1, 4), axis=0))
    assert opaque > 256 * 256 // 4 and colours > 1, f"blank map: {opaque} opaque pixels, {colours} colours"


def _half_size_m(parcel: Parcel) -> float:
    # the parcel's circle spans >= 10 px, and the scale stays smaller than
    # 1:10,000, where class labels would begin
    radius_m = parcel.radius_deg * 111_320 * math.cos(math.radians(parcel.lat))
    return max(radius_m * 4, 900.0)


def test_wms_capabilities_by_role(wms_url, tokens, layers):
    anonymous = WebMapService(wms_url, version="1.3.0", timeout=60)
    assert anonymous.identification.title.startswith("益阳市")
    public = {layer.id for layer in layers if layer.is_public}
    assert set(anonymous.contents) == public | {"one_map", "XZ", "GH"}
    assert not INTERNAL_ONLY & set(anonymous.contents)
    staff = WebMapService(wms_url, version="1.3.0", timeout=60, headers=auth(tokens["staff"]))
    assert set(staff.contents) >= {layer.id for layer in layers} | {"one_map", "XZ", "GH", "SX"}
    assert staff["GHYDYH"].title.startswith("规划用地用海")
    assert {"EPSG:4490", "EPSG:3857"} <= set(staff["GHYDYH"].crsOptions)
    assert staff["GHYDYH"].queryable
    egov = WebMapService(wms_url, version="1.3.0", timeout=60, headers=auth(tokens["egov"]))
    assert set(egov.contents) == set(anonymous.contents)


def test_wms_getmap_in_4490_and_3857_has_the_style_colour(wms_url, plan_parcel):
    wms = WebMapService(wms_url, version="1.3.0", timeout=60)
    half = _half_size_m(plan_parcel)
    dlat = half / 111_320
    dlon = dlat / math.cos(math.radians(plan_parcel.lat))
    # x/y order: OWSLib sends it latitude first, as WMS 1.3 wants for EPSG:4490
    png = wms.getmap(layers=["GHYDYH"], styles=[""], srs="EPSG:4490", format="image/png", transparent=True,
                     size=(256, 256), bbox=(plan_parcel.lon - dlon, plan_parcel.lat - dlat,
                                            plan_parcel.lon + dlon, plan_parcel.lat + dlat)).read()
    _assert_not_blank(png)
    assert_colour(pixel_at(png, 128, 128), plan_parcel.color, f"EPSG:4490 GHYDYH {plan_parcel.code}")
    x, y = TO_3857.transform(plan_parcel.lon, plan_parcel.lat)
    half_3857 = half / math.cos(math.radians(plan_parcel.lat))
    png = wms.getmap(layers=["GHYDYH"], styles=[""], srs="EPSG:3857", format="image/png", transparent=True,
                     size=(256, 256), bbox=(x - half_3857, y - half_3857, x + half_3857, y + half_3857)).read()
    _assert_not_blank(png)
    assert_colour(pixel_at(png, 128, 128), plan_parcel.color, f"EPSG:3857 GHYDYH {plan_parcel.code}")


@pytest.mark.parametrize("matrix_set", ["WebMercatorQuad", "CGCS2000"])
def test_wmts_gettile_has_the_style_colour(wmts_url, tokens, plan_parcel, current_parcel, matrix_set):
    wmts = WebMapTileService(wmts_url, timeout=60, headers=auth(tokens["staff"]))
    assert {"WebMercatorQuad", "CGCS2000"} <= set(wmts.tilematrixsets)
    assert wmts.tilematrixsets["CGCS2000"].crs.endswith("4490")
    for parcel in (plan_parcel, current_parcel):
        z, col, row, px, py = tile_of(parcel, matrix_set)
        tile = wmts.gettile(layer=parcel.layer_id, tilematrixset=matrix_set, tilematrix=str(z),
                            row=row, column=col, format="image/png").read()
        _assert_not_blank(tile)
        assert_colour(pixel_at(tile, px, py), parcel.color, f"{matrix_set} {parcel.layer_id} {parcel.code}")


def test_wmts_capabilities_hide_internal_layers(wmts_url, tokens):
    anonymous = WebMapTileService(wmts_url, timeout=60)
    assert {"GHYDYH", "XZQ", "one_map", "GH"} <= set(anonymous.contents)
    assert not INTERNAL_ONLY & set(anonymous.contents)
    staff = WebMapTileService(wmts_url, timeout=60, headers=auth(tokens["staff"]))
    assert INTERNAL_ONLY <= set(staff.contents)


def test_rest_kvp_and_tms_serve_the_same_tile(base_url, plan_parcel):
    z, col, row, _, _ = tile_of(plan_parcel, "WebMercatorQuad")
    rest = requests.get(f"{base_url}/mapproxy/wmts/GHYDYH/WebMercatorQuad/{z}/{col}/{row}.png", timeout=60)
    kvp = requests.get(f"{base_url}/mapproxy/service", params={
        "SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": "GHYDYH", "STYLE": "default",
        "TILEMATRIXSET": "WebMercatorQuad", "TILEMATRIX": z, "TILEROW": row, "TILECOL": col,
        "FORMAT": "image/png"}, timeout=60)
    # TMS: rows from the bottom, and level 0 of its global-mercator profile is 2 x 2 tiles
    tms = requests.get(f"{base_url}/mapproxy/tms/1.0.0/GHYDYH/WebMercatorQuad/{z - 1}/{col}/{2**z - 1 - row}.png",
                       timeout=60)
    for response in (rest, kvp, tms):
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert rest.content == kvp.content == tms.content


def test_one_map_of_the_pygeoapi_html_map(base_url, ogc_url):
    landing = requests.get(f"{ogc_url}/collections/GHYDYH", params={"f": "html"}, timeout=60).text
    template = f"{base_url}/mapproxy/wmts/one_map/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
    assert template in landing
    r = requests.get(template.format(z=8, x=207, y=107), timeout=120)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"


def test_getfeatureinfo_passes_through(wms_url, tokens, plan_parcel):
    d = 0.0005
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo", "LAYERS": "GHYDYH",
              "QUERY_LAYERS": "GHYDYH", "STYLES": "", "CRS": "EPSG:4490", "WIDTH": 101, "HEIGHT": 101,
              "BBOX": f"{plan_parcel.lat - d},{plan_parcel.lon - d},{plan_parcel.lat + d},{plan_parcel.lon + d}",
              "I": 50, "J": 50, "FORMAT": "image/png"}
    r = requests.get(wms_url, params={**params, "INFO_FORMAT": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    assert [f["properties"]["ydyhdm"] for f in features] == [plan_parcel.code]
    assert set(features[0]["properties"]) <= {"bsm", "ydyhdm", "ydyhmc", "xzqdm", "mj"}
    gml = requests.get(wms_url, params={**params, "INFO_FORMAT": "application/vnd.ogc.gml"}, timeout=60)
    assert gml.status_code == 200
    assert etree.fromstring(gml.content).xpath("string(//*[local-name()='ydyhdm'])") == plan_parcel.code
    # an internal layer needs a token for GetFeatureInfo too
    internal = {**params, "LAYERS": "DLTB", "QUERY_LAYERS": "DLTB", "INFO_FORMAT": "application/json"}
    assert requests.get(wms_url, params=internal, timeout=60).status_code == 401
    assert requests.get(wms_url, params=internal, headers=auth(tokens["staff"]), timeout=60).status_code == 200


@pytest.mark.parametrize("role", [None, "egov"])
def test_internal_maps_are_refused(base_url, wms_url, tokens, role, current_parcel):
    headers = auth(tokens[role]) if role else {}
    want = 401 if role is None else 403
    z, col, row, _, _ = tile_of(current_parcel, "WebMercatorQuad")
    requests_ = [
        (wms_url, {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "GHYDYH,DLTB",
                   "STYLES": "", "CRS": "EPSG:3857", "BBOX": "0,0,1000,1000", "WIDTH": 64, "HEIGHT": 64,
                   "FORMAT": "image/png"}),
        (f"{base_url}/mapproxy/wmts/DLTB/WebMercatorQuad/{z}/{col}/{row}.png", {}),
        (f"{base_url}/mapproxy/wmts", {"SERVICE": "WMTS", "REQUEST": "GetTile", "LAYER": "STBHHX"}),
        (f"{base_url}/mapproxy/tms/1.0.0/SX/WebMercatorQuad/0/0/0.png", {}),
    ]
    for url, params in requests_:
        r = requests.get(url, params=params, headers=headers, timeout=60)
        assert r.status_code == want, f"{url} {params}: {r.status_code}"
        body = r.json()
        assert body["message_zh"] and body["message_en"] and body["field"] == "Authorization"


def test_bad_map_requests_are_4xx_with_bilingual_messages(base_url, wms_url):
    getmap = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "GHYDYH", "STYLES": "",
              "CRS": "EPSG:4490", "BBOX": "28.4,112.3,28.5,112.4", "WIDTH": 256, "HEIGHT": 256,
              "FORMAT": "image/png"}
    r = requests.get(wms_url, params={**getmap, "LAYERS": "NO_SUCH_LAYER"}, timeout=60)
    assert r.status_code == 400
    message = etree.fromstring(r.content).xpath("string(//*[local-name()='ServiceException'])")
    assert message.startswith("图层不存在 / ") and "NO_SUCH_LAYER" in message
    for bbox in ("28.4,112.3,abc", "28.5,112.3,28.4,112.4"):
        r = requests.get(wms_url, params={**getmap, "BBOX": bbox}, timeout=60)
        assert r.status_code == 400 and r.json()["field"] == "BBOX" and r.json()["message_zh"]
    r = requests.get(wms_url, params={**getmap, "CRS": "EPSG:99999"}, timeout=60)
    assert r.status_code == 400 and "/" in etree.fromstring(r.content).xpath("string(//*)")
    r = requests.get(f"{base_url}/mapproxy/wmts/GHYDYH/WebMercatorQuad/3/100/100.png", timeout=60)
    assert r.status_code == 400 and "瓦片行列号超出范围" in r.content.decode()
    r = requests.get(f"{base_url}/mapproxy/wmts/NO_SUCH_LAYER/WebMercatorQuad/3/1/1.png", timeout=60)
    assert r.status_code == 400 and "图层不存在" in r.content.decode()
    r = requests.get(f"{base_url}/mapproxy/wmts", params={"SERVICE": "WMTS", "REQUEST": "GetTile"}, timeout=60)
    assert r.status_code == 404 and r.content.decode().startswith("请求路径无效 / invalid request")


def test_names_the_gateway_checks_are_those_mapproxy_serves(wms_url, tokens):
    staff = WebMapService(wms_url, version="1.3.0", timeout=60, headers=auth(tokens["staff"]))
    served = set(staff.contents)
    # every name of the internal service is known to the access check
    assert all(requested_names("/service", {"LAYERS": name}, served) == [name] for name in served)


def test_health_reports_mapserver_and_both_mapproxies(base_url):
    components = requests.get(f"{base_url}/healthz", timeout=60).json()["components"]
    for name in ("mapserver", "mapproxy-public", "mapproxy-internal"):
        assert components[name]["status"] == "up", components[name]
    assert "onemap.map" in components["mapserver"]["detail"]


def test_legend_graphic_from_the_style(wms_url, tokens):
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "LAYER": "GHYDYH",
              "FORMAT": "image/png", "SLD_VERSION": "1.1.0", "STYLE": ""}
    r = requests.get(wms_url, params=params, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    legend = Image.open(io.BytesIO(r.content))
    rules = len(load_style("landuse-ghydyh").rules)
    assert legend.height >= rules * 10  # a row per class
    assert requests.get(wms_url, params={**params, "LAYER": "DLTB"}, timeout=60).status_code == 401
    assert requests.get(wms_url, params={**params, "LAYER": "DLTB"}, headers=auth(tokens["staff"]),
                        timeout=60).status_code == 200


def test_a_cached_tile_comes_with_its_etag_and_stays_behind_the_access_check(base_url, tokens, plan_parcel,
                                                                             current_parcel):
    """Cached WMTS tiles leave from the file cache: conditional requests get
    304, an internal layer's tile stays refused to the anonymous caller and
    private, a versioned layer's tile is revalidated at every use."""
    cases = [("GHYDYH", plan_parcel, {}, "public", True),
             ("DLTB", current_parcel, auth(tokens["staff"]), "private", False)]
    for layer, parcel, headers, scope, versioned in cases:
        z, col, row, _, _ = tile_of(parcel, "CGCS2000")
        url = f"{base_url}/mapproxy/wmts/{layer}/CGCS2000/{z}/{col}/{row}.png"
        first = requests.get(url, headers=headers, timeout=120)  # drawn by MapProxy unless cached
        cached = requests.get(url, headers=headers, timeout=60)
        assert cached.status_code == 200 and cached.headers["Content-Type"] == "image/png"
        assert cached.content == first.content
        control = cached.headers["Cache-Control"]
        assert scope in control and ("no-cache" in control) == versioned, control
        again = requests.get(url, headers={**headers, "If-None-Match": cached.headers["ETag"]}, timeout=60)
        assert again.status_code == 304 and again.content == b""
    refused = requests.get(url, timeout=60)
    assert refused.status_code == 401 and refused.json()["field"] == "Authorization"
