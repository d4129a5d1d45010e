"""Seeding the tile caches (预生成瓦片) with MapProxy's seeder, over the extent
of the layer's data, with a progress bar."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mapproxy.seed.util import ProgressLog

from onemap.core.registry import Layer
from onemap.core.settings import Settings
from onemap.maps.config import (
    GRIDS,
    cache_dir,
    config_path,
    group_cache,
    layer_cache,
    load_tree,
    visible_group,
    visible_layers,
)
from onemap.maps.mapfile import use_mapserver_config
from onemap.ogc.config import AUDIENCES

MAX_LEVEL = 20


class SeedError(ValueError):
    """Bad seeding request: message in Chinese and English."""


@dataclass(frozen=True)
class SeedReport:
    caches: tuple[str, ...]
    tiles: int  # tile files written
    seconds: float

    @property
    def rate(self) -> float:
        return self.tiles / self.seconds if self.seconds else 0.0


def parse_levels(text: str) -> tuple[int, int]:
    """'a-b' (or 'a') -> (a, b), 0 <= a <= b <= MAX_LEVEL."""
    parts = text.split("-")
    try:
        first, last = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (-1, -1)
    except ValueError:
        first, last = -1, -1
    if not 0 <= first <= last <= MAX_LEVEL:
        raise SeedError(f"级别范围应为 a-b（0 ≤ a ≤ b ≤ {MAX_LEVEL}），而不是 {text!r} / "
                        f"levels must be a-b with 0 <= a <= b <= {MAX_LEVEL}, not {text!r}")
    return first, last


def seed_plan(name: str, layers: list[Layer]) -> list[tuple[str, str, list[str]]]:
    """(audience, cache, layer ids it draws) to seed for a layer or group name:
    a layer's one cache, or a group's cache in each service that has it."""
    by_id = {layer.id: layer for layer in layers}
    if name in by_id:
        audience = "public" if by_id[name].is_public else "internal"
        return [(audience, layer_cache(name), [name])]
    tree = load_tree(layers)
    groups = {g.name: g for g in (tree.root, *tree.groups)}
    if name not in groups:
        known = ", ".join([*by_id, *groups])
        raise SeedError(f"图层或图层组 {name} 不存在（可用：{known}） / no layer or group {name} (one of {known})")
    plan = []
    for audience in AUDIENCES:
        visible = {layer.id for layer in visible_layers(layers, audience)}
        group = visible_group(groups[name], visible)
        if group:
            plan.append((audience, group_cache(name, audience), list(group.layers)))
    return plan


def _union(boxes: list[list[float]]) -> list[float]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def tile_dir(settings: Settings, cache: str, grid: str) -> Path:
    """Where the file cache keeps a cache's tiles of a grid: z/x/y.png below
    (MapProxy's `tms` directory layout, rows counted from the top)."""
    return cache_dir(settings) / cache / grid


def tile_files(settings: Settings, cache: str, grids: list[str], levels: tuple[int, int]) -> dict[str, tuple]:
    """The tile files of `levels`, each with its identity (inode, size,
    mtime in ns). MapProxy writes a tile to a temporary file and renames it
    over the old one, so a rewritten tile has a new inode."""
    files = {}
    for grid in grids:
        for level in range(levels[0], levels[1] + 1):
            for directory, _, names in os.walk(tile_dir(settings, cache, grid) / str(level)):
                for name in names:
                    path = os.path.join(directory, name)
                    st = os.stat(path)
                    files[path] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return files


def written_tiles(before: dict[str, tuple], after: dict[str, tuple]) -> int:
    """Tiles new or rewritten between two `tile_files` listings: compared as
    file sets, not by clock, so a run within the same second counts right."""
    return sum(1 for path, identity in after.items() if before.get(path) != identity)


class ProgressBar(ProgressLog):
    """MapProxy's seed progress drawn as one bar line per seed task."""

    def __init__(self, out: TextIO, label: str) -> None:
        super().__init__(out=out, verbose=True, silent=False)
        self.label = label
        self.tiles = 0
        self.drawn = 0.0

    def _draw(self, fraction: float) -> None:
        if time.monotonic() - self.drawn < 0.25 and fraction < 1:
            return
        self.drawn = time.monotonic()
        width = 30
        done = int(fraction * width)
        self.out.write(f"\r{self.label} [{'#' * done}{'.' * (width - done)}] {fraction * 100:5.1f}% "
                       f"{self.tiles} tiles")
        self.out.flush()

    def log_message(self, msg: str) -> None:
        self.out.write(f"\n{msg}\n")

    def log_step(self, progress: Any) -> None:
        self._draw(progress.progress)

    def log_progress(self, progress: Any, level: int, bbox: Any, tiles: int) -> None:
        self.tiles = tiles
        self._draw(progress.progress)


def seed(settings: Settings, layers: list[Layer], name: str, levels: tuple[int, int],
         extents: dict[str, dict[str, Any]], grids: list[str] | None = None,
         concurrency: int = 2, refresh: bool = False, out: TextIO = sys.stdout) -> SeedReport:
    """Seed the caches of layer or group `name` for `levels` on `grids`
    (default: every grid) over its data's extent: the missing tiles, or
    every tile with `refresh`."""
    from mapproxy.config.loader import load_configuration
    from mapproxy.seed.config import SeedingConfiguration
    from mapproxy.seed.seeder import seed as mapproxy_seed

    grids = list(grids or GRIDS)
    unknown = set(grids) - set(GRIDS)
    if unknown:
        raise SeedError(f"未知的瓦片网格 {sorted(unknown)}（可用：{', '.join(GRIDS)}） / "
                        f"unknown grids {sorted(unknown)}: one of {', '.join(GRIDS)}")
    use_mapserver_config(settings)
    started = time.monotonic()
    # refresh_before: tiles older than this are re-rendered; without
    # `refresh`, none is that old, so only missing tiles are rendered
    stale: dict[str, Any] = {"seconds": 0} if refresh else {"time": "1970-01-02T00:00:00"}
    caches, written = [], 0
    for audience, cache, members in seed_plan(name, layers):
        before = tile_files(settings, cache, grids, levels)
        conf = load_configuration(mapproxy_conf=str(config_path(settings, audience)), seed=True)
        bbox = _union([extents[m]["spatial"]["bbox"] for m in members])
        seeding = SeedingConfiguration({
            "coverages": {"data": {"bbox": bbox, "srs": "EPSG:4490"}},
            "seeds": {name: {"caches": [cache], "grids": grids, "coverages": ["data"], "refresh_before": stale,
                             "levels": {"from": levels[0], "to": levels[1]}}},
        }, mapproxy_conf=conf)
        progress = ProgressBar(out, f"{cache} {levels[0]}-{levels[1]}")
        mapproxy_seed(seeding.seeds([name]), concurrency=concurrency, progress_logger=progress)
        out.write("\n")
        caches.append(cache)
        written += written_tiles(before, tile_files(settings, cache, grids, levels))
    return SeedReport(tuple(caches), written, time.monotonic() - started)
