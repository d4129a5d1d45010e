from onemap.core.db import connection_parameters
from onemap.core.registry import load_layers
from onemap.core.settings import Settings
from onemap.ogc.config import RECORDS_COLLECTION, SERVED_CRS, pygeoapi_config
from processes.evaluation.layers import load_result_layers


def _extents(layers):
    return {layer.id: {"spatial": {"bbox": [111, 28, 113, 29.5]}} for layer in layers}


def test_public_config_holds_public_layers_only():
    layers = load_layers()
    settings = Settings.from_env({"ONEMAP_VAR": "/tmp/x"})
    url = "postgresql://u:p%40ss@127.0.0.1:5999/db"
    public = pygeoapi_config(layers, settings, url, _extents(layers), "public")
    internal = pygeoapi_config(layers, settings, url, _extents(layers), "internal")
    results = {result.id for result in load_result_layers()}  # the evaluation coverages: staff only
    assert set(internal["resources"]) == {layer.id for layer in layers} | {RECORDS_COLLECTION} | results
    assert {internal["resources"][r]["providers"][0]["type"] for r in results} == {"coverage"}
    assert set(public["resources"]) == {layer.id for layer in layers if layer.is_public} | {RECORDS_COLLECTION}
    assert "STBHHX" not in public["resources"]
    feature = internal["resources"]["DLTB"]["providers"][0]
    assert feature["crs"] == SERVED_CRS and feature["table"] == "dltb"
    assert feature["data"]["password"] == "p@ss" and feature["data"]["search_path"][0] == "base"
    assert internal["resources"]["DLTB"]["title"] == {"zh": "地类图斑", "en": "Current land use parcels"}
    assert internal["server"]["languages"][0] == "zh"
    assert internal["server"]["limits"]["on_exceed"] == "throttle"  # OGC API Features Part 1, 7.15.3


def test_connection_from_url():
    assert connection_parameters("postgresql://a:b@h:1/d") == {"host": "h", "port": 1, "dbname": "d", "user": "a",
                                                    "password": "b"}
