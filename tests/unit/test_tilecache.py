"""Which WMTS requests leave straight from the tile cache (onemap.maps.tilecache):
cached tiles of known layers and groups, not tiles drawn before the plan in
force changed, nor anything MapProxy alone can answer."""

from __future__ import annotations

import os

import pytest

from onemap.core.registry import load_layers
from onemap.core.settings import Settings
from onemap.maps.config import load_tree, plan_state_file
from onemap.maps.seed import tile_dir
from onemap.maps.tilecache import TileCache


@pytest.fixture
def cache(tmp_path):
    settings = Settings.from_env({"ONEMAP_VAR": str(tmp_path)})
    layers = load_layers()
    state = plan_state_file(settings)
    state.parent.mkdir(parents=True)
    state.write_text("")
    os.utime(state, (1000, 1000))
    return TileCache.of(settings, layers, load_tree(layers)), settings


def _tile(settings, cache_name: str, grid: str, z: int, x: int, y: int, mtime: float):
    path = tile_dir(settings, cache_name, grid) / str(z) / str(x) / f"{y}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG")
    os.utime(path, (mtime, mtime))
    return path


def test_a_cached_tile_of_a_layer_or_group_is_found(cache):
    tiles, settings = cache
    layer = _tile(settings, "DLTB_cache", "WebMercatorQuad", 14, 13000, 6800, 2000)
    group = _tile(settings, "one_map_public_cache", "CGCS2000", 8, 400, 80, 2000)
    found = tiles.lookup("/wmts/DLTB/WebMercatorQuad/14/13000/6800.png", "internal")
    assert found is not None and found.path == layer and not found.versioned
    found = tiles.lookup("/wmts/one_map/CGCS2000/8/400/80.png", "public")
    assert found is not None and found.path == group and found.versioned  # it draws GHYDYH
    # the internal caller's group draws more layers: a cache of its own
    assert tiles.lookup("/wmts/one_map/CGCS2000/8/400/80.png", "internal") is None


def test_a_versioned_tile_drawn_before_the_plan_changed_goes_to_mapproxy(cache):
    tiles, settings = cache
    _tile(settings, "GHYDYH_cache", "WebMercatorQuad", 14, 1, 2, 999)
    _tile(settings, "DLTB_cache", "WebMercatorQuad", 14, 1, 2, 999)  # not versioned: still good
    assert tiles.lookup("/wmts/GHYDYH/WebMercatorQuad/14/1/2.png", "public") is None
    assert tiles.lookup("/wmts/DLTB/WebMercatorQuad/14/1/2.png", "internal") is not None
    os.utime(plan_state_file(settings), (500, 500))
    assert tiles.lookup("/wmts/GHYDYH/WebMercatorQuad/14/1/2.png", "public") is not None


@pytest.mark.parametrize("path", [
    "/wmts/DLTB/WebMercatorQuad/14/13000/6801.png",      # not cached
    "/wmts/NO_SUCH/WebMercatorQuad/14/13000/6800.png",   # unknown layer
    "/wmts/DLTB/GLOBAL_MERCATOR/14/13000/6800.png",      # unknown grid
    "/wmts/DLTB/WebMercatorQuad/14/13000/6800.jpeg",     # another format
    "/wmts/DLTB/WebMercatorQuad/../../../x/1/1.png",     # no path tricks
    "/tms/1.0.0/DLTB/WebMercatorQuad/14/13000/6800.png",  # TMS counts rows from the bottom
])
def test_other_requests_go_to_mapproxy(cache, path):
    tiles, settings = cache
    _tile(settings, "DLTB_cache", "WebMercatorQuad", 14, 13000, 6800, 2000)
    assert tiles.lookup(path, "internal") is None
