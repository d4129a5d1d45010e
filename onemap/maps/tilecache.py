"""Cached WMTS tiles straight from MapProxy's file cache (瓦片缓存直读).

A WMTS REST GetTile whose tile is already cached, and still true to the plan
in force, is answered from the file after the gateway's access decision,
without entering MapProxy (which would stat, lock-check and copy the same
file through its own layers). A miss, or a tile of a versioned layer drawn
before the plan state file changed (MapProxy's `refresh_before: mtime`),
goes to MapProxy as before, which draws it again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from onemap.core.registry import Layer
from onemap.core.settings import Settings
from onemap.maps.config import GRIDS, Tree, cache_dir, group_cache, layer_cache, plan_state_file

# /wmts/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png; both
# grids count rows from the top, as the cache's directories do (tile_dir)
_WMTS_REST = re.compile(r"^/wmts/([^/]+)/([^/]+)/(\d{1,2})/(\d{1,7})/(\d{1,7})\.png$")


@dataclass(frozen=True)
class CachedTile:
    path: Path
    versioned: bool  # shows the plan in force: a publish may change it


@dataclass(frozen=True)
class TileCache:
    root: Path
    state_file: Path
    layers: frozenset[str]
    groups: frozenset[str]
    versioned: frozenset[str]  # layers and groups drawing a versioned layer

    @classmethod
    def of(cls, settings: Settings, layers: list[Layer], tree: Tree) -> TileCache:
        versioned_layers = {layer.id for layer in layers if layer.versioned}
        groups = (tree.root, *tree.groups)
        versioned = versioned_layers | {g.name for g in groups if versioned_layers & set(g.layers)}
        return cls(cache_dir(settings), plan_state_file(settings), frozenset(layer.id for layer in layers),
                   frozenset(g.name for g in groups), frozenset(versioned))

    def lookup(self, path: str, audience: str) -> CachedTile | None:
        """The cached file of a WMTS REST tile request (path under /mapproxy)
        for a caller served by `audience`'s configuration; None when MapProxy
        must answer (not such a request, not cached, or stale)."""
        match = _WMTS_REST.match(path)
        if match is None:
            return None
        name, grid, z, x, y = match.groups()
        if grid not in GRIDS:
            return None
        if name in self.layers:
            cache = layer_cache(name)
        elif name in self.groups:
            cache = group_cache(name, audience)  # a group draws fewer layers for the public
        else:
            return None
        tile = self.root / cache / grid / z / x / f"{y}.png"
        try:
            drawn = os.stat(tile).st_mtime
            stale = name in self.versioned and drawn < os.stat(self.state_file).st_mtime
        except FileNotFoundError:
            return None
        return None if stale else CachedTile(tile, name in self.versioned)
