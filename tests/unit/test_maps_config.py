"""The MapProxy configuration, the request layer names and the error
translation of /mapproxy, without a running stack."""

from __future__ import annotations

import pytest
from lxml import etree

from onemap.core.access import AccessPolicy
from onemap.core.auth import ANONYMOUS, Principal
from onemap.core.registry import load_layers
from onemap.core.settings import Settings
from onemap.maps.config import (
    config_path,
    group_sensitivity,
    load_tree,
    mapproxy_config,
    write_mapproxy_configs,
)
from onemap.maps.seed import SeedError, parse_levels, seed_plan, tile_dir, tile_files, written_tiles
from onemap.maps.service import bilingual_exception, check_parameters, requested_names

LAYERS = load_layers()
PUBLIC = {layer.id for layer in LAYERS if layer.is_public}
EXTENTS = {layer.id: {"spatial": {"bbox": [111.9, 28.2, 112.9, 28.8]}} for layer in LAYERS}


def _names(entry: dict) -> set[str]:
    names = {entry["name"]}
    for child in entry.get("layers", []):
        names |= _names(child)
    return names


@pytest.fixture()
def settings(tmp_path):
    return Settings.from_env({"ONEMAP_VAR": str(tmp_path)})


def test_public_config_names_public_layers_only(settings):
    tree = load_tree(LAYERS)
    files = settings.mapserver_files
    internal = mapproxy_config(LAYERS, tree, settings, files, EXTENTS, "internal")
    public = mapproxy_config(LAYERS, tree, settings, files, EXTENTS, "public")
    assert _names(internal["layers"][0]) == {layer.id for layer in LAYERS} | set(tree.names)
    # the three-lines group has no public member: not in the public tree
    assert _names(public["layers"][0]) == PUBLIC | {"one_map", "XZ", "GH"}
    assert set(public["sources"]) == {f"{name}_mapserver" for name in PUBLIC}
    # a layer's cache is shared, a group's is per audience (it draws fewer layers)
    assert "GHYDYH_cache" in public["caches"] and "GHYDYH_cache" in internal["caches"]
    assert public["caches"]["one_map_public_cache"]["sources"] == [
        f"{name}_mapserver" for name in tree.root.layers if name in PUBLIC]
    assert internal["caches"]["one_map_internal_cache"]["sources"] == [
        f"{name}_mapserver" for name in tree.root.layers]
    # one coverage for all sources: MapProxy combines a group's into one MapServer call
    assert len({str(s["coverage"]) for s in internal["sources"].values()}) == 1
    source = internal["sources"]["DLTB_mapserver"]
    assert source["type"] == "mapserver" and source["req"]["map"] == str(files.mapfile)
    assert set(internal["grids"]) == {"WebMercatorQuad", "CGCS2000"}
    # monitoring layers are drawn for every request: their values change with every run
    assert {name for name, cache in internal["caches"].items() if cache.get("disable_storage")} == {
        f"{layer.id}_cache" for layer in LAYERS if layer.periodic} != set()


def test_mapproxy_loads_the_generated_configs(settings):
    from mapproxy.config.loader import load_configuration

    files = settings.mapserver_files
    files.directory.mkdir(parents=True)
    write_mapproxy_configs(LAYERS, load_tree(LAYERS), settings, files, EXTENTS)
    for audience in ("public", "internal"):
        conf = load_configuration(mapproxy_conf=str(config_path(settings, audience)))
        services = conf.configured_services()
        assert {type(s).__name__ for s in services} >= {"OWSServer", "WMTSRestServer", "TileServer"}
        wmts = next(s for s in services if type(s).__name__ == "WMTSRestServer")
        for layer in wmts.layers.values():
            assert {grid.name for grid in layer.grids} == {"WebMercatorQuad", "CGCS2000"}
        names = {layer.name for layer in wmts.layers.values()}
        assert ("DLTB" in names) == (audience == "internal") and "one_map" in names


def test_tree_refuses_unknown_members(tmp_path):
    path = tmp_path / "groups.yaml"
    path.write_text("root: {name: one_map, title: {zh: 一, en: One}, draws: [XZQ]}\n"
                    "groups: [{name: G, title: {zh: 组, en: G}, layers: [NOPE]}]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown layers"):
        load_tree(LAYERS, path)


def test_requested_names_from_kvp_and_rest():
    known = {"DLTB", "GHYDYH", "one_map", "SX"}
    assert requested_names("/service", {"LAYERS": "GHYDYH,DLTB", "REQUEST": "GetMap"}, known) == ["GHYDYH", "DLTB"]
    assert requested_names("/service", {"query_layers": "SX", "layers": "one_map"}, known) == ["one_map", "SX"]
    assert requested_names("/wmts", {"layer": "DLTB"}, known) == ["DLTB"]
    assert requested_names("/wmts/DLTB/WebMercatorQuad/3/1/2.png", {}, known) == ["DLTB"]
    assert requested_names("/tms/1.0.0/DLTB_CGCS2000/3/1/2.png", {}, known) == ["DLTB"]
    assert requested_names("/tiles/1.0.0/one_map/WebMercatorQuad/3/1/2.png", {}, known) == ["one_map"]
    assert requested_names("/wmts/1.0.0/WMTSCapabilities.xml", {}, known) == []
    assert requested_names("/service", {"LAYERS": "NOPE"}, known) == []


def test_groups_are_public_when_they_have_a_public_member():
    sensitivity = group_sensitivity(load_tree(LAYERS), LAYERS)
    assert sensitivity == {"one_map": "public", "XZ": "public", "GH": "public", "SX": "internal"}
    gateway = {"roles": {"staff": {"reads": ["public", "internal"]}, "egov": {"reads": ["public"]}},
               "anonymous_reads": ["public"]}
    policy = AccessPolicy.from_config(gateway, LAYERS)
    assert policy.check_layer("SX", ANONYMOUS, sensitivity).status == 401
    assert policy.check_layer("SX", Principal("x", "egov"), sensitivity).status == 403
    assert policy.check_layer("SX", Principal("x", "staff"), sensitivity) is None
    assert policy.check_layer("GH", ANONYMOUS, sensitivity) is None


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "3,2,1,4", "1,2,3,nan", ""])
def test_bad_bbox_is_refused(bbox):
    problem = check_parameters({"BBOX": bbox})
    assert problem.status == 400 and problem.field == "BBOX" and "BBOX" in problem.zh


def test_good_parameters_pass():
    assert check_parameters({"bbox": "111.9,28.2,112.9,28.8", "WIDTH": "256", "HEIGHT": "256"}) is None
    assert check_parameters({"WIDTH": "-3"}).field == "WIDTH"


def test_mapproxy_exceptions_become_bilingual_4xx():
    wms = (b'<?xml version="1.0"?><ServiceExceptionReport xmlns="http://www.opengis.net/ogc" version="1.3.0">'
           b'<ServiceException code="LayerNotDefined">unknown layer: NOPE</ServiceException>'
           b'</ServiceExceptionReport>')
    status, body = bilingual_exception(500, "text/xml", wms)
    assert status == 400
    text = etree.fromstring(body).findtext("{http://www.opengis.net/ogc}ServiceException")
    assert text == "图层不存在 / unknown layer: NOPE"
    wmts = (b'<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1"><ows:Exception '
            b'exceptionCode="TileOutOfRange"><ows:ExceptionText>outside</ows:ExceptionText></ows:Exception>'
            b'</ows:ExceptionReport>')
    status, body = bilingual_exception(400, "text/xml", wmts)
    assert status == 400 and "瓦片行列号超出范围 / outside".encode() in body
    missing = wms.replace(b'code="LayerNotDefined"', b"").replace(b"unknown layer: NOPE",
                                                                  b"missing parameters ['format']")
    status, body = bilingual_exception(500, "text/xml", missing)
    assert status == 400 and "缺少请求参数 / missing parameters".encode() in body
    # a failure of ours stays a 500
    internal = wms.replace(b'code="LayerNotDefined"', b"").replace(b"unknown layer: NOPE", b"boom")
    assert bilingual_exception(500, "text/xml", internal)[0] == 500
    assert bilingual_exception(500, "text/plain", b"internal error") is None
    assert bilingual_exception(500, "text/plain", b"internal error: invalid request (/wmts)")[0] == 404


def test_seed_plan_and_levels():
    assert seed_plan("DLTB", LAYERS) == [("internal", "DLTB_cache", ["DLTB"])]
    plan = seed_plan("GH", LAYERS)
    assert [p[1] for p in plan] == ["GH_public_cache", "GH_internal_cache"]
    assert [p[1] for p in seed_plan("SX", LAYERS)] == ["SX_internal_cache"]
    with pytest.raises(SeedError, match="不存在"):
        seed_plan("NOPE", LAYERS)
    assert parse_levels("3-7") == (3, 7) and parse_levels("5") == (5, 5)
    for bad in ("7-3", "a-b", "1-2-3", "0-99", "-1"):
        with pytest.raises(SeedError, match="levels must be"):
            parse_levels(bad)


def test_written_tiles_are_counted_by_file_not_by_clock(settings):
    """Tiles written within the same second as an earlier run (same mtime
    to the second) are told apart: new files and rewritten ones count,
    untouched ones do not."""
    from mapproxy.util.fs import write_atomic

    def tile(level: int, x: int, y: int) -> str:
        path = tile_dir(settings, "XZQ_cache", "WebMercatorQuad") / str(level) / str(x) / f"{y}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    for y in range(3):
        write_atomic(tile(9, 0, y), b"png")
    listing = tile_files(settings, "XZQ_cache", ["WebMercatorQuad"], (7, 9))
    assert len(listing) == 3
    assert written_tiles(listing, tile_files(settings, "XZQ_cache", ["WebMercatorQuad"], (7, 9))) == 0
    write_atomic(tile(8, 0, 0), b"png")          # new
    write_atomic(tile(9, 0, 1), b"png")          # rewritten, as MapProxy does: new inode
    write_atomic(tile(6, 0, 0), b"png")          # outside the levels
    assert written_tiles(listing, tile_files(settings, "XZQ_cache", ["WebMercatorQuad"], (7, 9))) == 2


def test_a_changed_mapfile_empties_the_tile_cache(settings):
    from onemap.maps.config import cache_dir
    from onemap.maps.service import write_map_configs

    write_map_configs(LAYERS, settings, "postgresql://u@h/db", EXTENTS)
    tile = cache_dir(settings) / "XZQ_cache" / "WebMercatorQuad" / "1" / "0" / "0.png"
    tile.parent.mkdir(parents=True)
    tile.write_bytes(b"png")
    write_map_configs(LAYERS, settings, "postgresql://u@h/db", EXTENTS)
    assert tile.exists()  # nothing changed: the tiles stay
    moved = {**EXTENTS, "XZQ": {"spatial": {"bbox": [111.0, 28.0, 113.0, 29.0]}}}
    write_map_configs(LAYERS, settings, "postgresql://u@h/db", moved)
    assert not tile.exists()


def test_mapserver_health_check_fails_without_a_mapfile(settings):
    from onemap.maps.mapfile import check_mapfile

    with pytest.raises(RuntimeError, match="mapserv"):
        check_mapfile(settings)
