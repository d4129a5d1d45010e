"""评价结果发布 Publishing a run: a class of a result kept as polygons
(config/evaluation/layers.yaml `polygons`, e.g. 城镇建设不适宜区 for the
compliance check's notice) and the served rasters swapped, together.

The cells of the class are traced strip by strip (rasterio.features.shapes:
memory bounded by a strip), dissolved across the strips (a coverage union:
traced parts never overlap), simplified within half a cell (the cells'
staircase goes, the shape stays), one feature a connected part, in EPSG:4490
with the ellipsoidal area."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import rasterio
import shapely
from psycopg import sql
from pyproj import Transformer
from rasterio.features import shapes
from rasterio.windows import Window

from onemap.core.registry import Layer, load_layers
from onemap.core.settings import Settings
from processes.evaluation.layers import load_result_layers, publish_latest

STRIP_ROWS = 2048


def class_polygons(path: Path, code: int) -> list[shapely.Geometry]:
    """The cells of class `code` of a class raster as polygons (EPSG:4490)."""
    parts: list[shapely.Geometry] = []
    with rasterio.open(path) as src:
        half_cell = src.res[0] / 2
        to_lonlat = Transformer.from_crs(src.crs, "EPSG:4490", always_xy=True)
        for row in range(0, src.height, STRIP_ROWS):
            window = Window(0, row, src.width, min(STRIP_ROWS, src.height - row))
            codes = src.read(1, window=window)
            mask = codes == code
            if mask.any():
                parts += [shapely.geometry.shape(g) for g, _ in
                          shapes(codes, mask=mask, transform=src.window_transform(window))]
    if not parts:
        return []
    merged = shapely.simplify(shapely.coverage_union_all(parts), half_cell, preserve_topology=True)
    return list(shapely.transform(shapely.get_parts(merged),
                                  lambda c: np.column_stack(to_lonlat.transform(c[:, 0], c[:, 1]))))


def replace_features(conn: psycopg.Connection, layer: Layer, run_id: str, method_version: str,
                     polygons: list[shapely.Geometry]) -> int:
    """The layer's features become the run's polygons (in the caller's transaction)."""
    table = sql.Identifier(layer.schema, layer.table_name)
    conn.execute(sql.SQL("DELETE FROM {}").format(table))
    return conn.execute(sql.SQL(
        "INSERT INTO {} (pjbh, ffbb, mj, geom) SELECT %s, %s, ST_Area(g::geography), ST_Multi(g) "
        "FROM (SELECT ST_GeomFromWKB(w, 4490) AS g FROM unnest(%s::bytea[]) w) s").format(table),
        (run_id, method_version, [shapely.to_wkb(p) for p in polygons])).rowcount


def publish(settings: Settings, run_dir: Path, method_version: str) -> dict[str, int]:
    """Make a finished run the served one: the kept classes replace their
    layers' features and the rasters swap in one transaction (a failure
    leaves both as they were); the features written per layer."""
    registry = {layer.id: layer for layer in load_layers()}
    kept = [(registry[layer.polygons[0]], class_polygons(run_dir / f"{layer.output}.tif", layer.polygons[1].code))
            for layer in load_result_layers() if layer.polygons is not None]
    with psycopg.connect(settings.database_url) as conn, conn.transaction():
        written = {target.id: replace_features(conn, target, run_dir.name, method_version, polygons)
                   for target, polygons in kept}
        publish_latest(settings, run_dir)
    return written
