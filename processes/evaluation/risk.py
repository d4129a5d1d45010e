"""开发保护风险评估 Development and protection risk per township: how much of
the planned construction (GHYDYH in force, construction classes) and the
current projects (JSXM) lies on hazard-exposed cells, on ecological sources
and on current cropland, read from the factor rasters; the method in
config/evaluation/risk.yaml. One task per township (its window of the
factor rasters: memory bounded by a township), on the same Dask scheduler
as the double evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import psycopg
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.windows import Window

from onemap.core.inforce import in_force
from processes.evaluation.compute import Grid, cell_area, check_factors, scheduler
from processes.evaluation.method import MethodReader, find_method


@dataclass(frozen=True)
class Exposure:
    name: str
    title: str
    factor: str
    above: float | None = None
    codes: tuple[int, ...] = ()

    def cells(self, values: np.ndarray) -> np.ndarray:
        return values > self.above if self.above is not None else np.isin(values, self.codes)


@dataclass(frozen=True)
class RiskMethod:
    version: str
    construction_codes: tuple[str, ...]
    exposures: tuple[Exposure, ...]
    levels: tuple[tuple[str, float], ...]       # (level, share at least), highest first
    source: str

    def level(self, shares: dict[str, float]) -> str:
        worst = max(shares.values(), default=0.0)
        return next(level for level, least in self.levels if worst >= least)


def parse_risk(doc: Any, source: str) -> RiskMethod:
    r = MethodReader(source)
    codes = r.get(doc, "construction_codes", "", list)
    exposures = []
    for i, node in enumerate(r.get(doc, "exposures", "", list)):
        part = f"exposures[{i}]"
        factor = r.factor(r.get(node, "factor", part), f"{part}.factor")
        if ("above" in node) == ("codes" in node):
            raise r.fail(part, "应给出 above 或 codes 之一", "needs one of above or codes")
        exposures.append(Exposure(str(r.get(node, "name", part)), str(node.get("title", node["name"])), factor,
                                  float(node["above"]) if "above" in node else None,
                                  tuple(int(c) for c in node.get("codes", ()))))
    levels = []
    for i, node in enumerate(r.get(doc, "levels", "", list)):
        levels.append((str(r.get(node, "level", f"levels[{i}]")),
                       float(r.get(node, "share_at_least", f"levels[{i}]", int | float))))
    if not levels or levels[-1][1] > 0 or [v for _, v in levels] != sorted((v for _, v in levels), reverse=True):
        raise r.fail("levels", "风险等级应从高到低排列，最后一级 share_at_least 为 0",
                     "the levels must run from the highest down to one with share_at_least 0")
    return RiskMethod(str(r.get(doc, "version", "", str | int | float)), tuple(str(c) for c in codes),
                      tuple(exposures), tuple(levels), source)


def find_risk_method(version: str | None) -> RiskMethod:
    return find_method(version, kind="risk-evaluation", parse=parse_risk)


def _township(factor_dir: Path, method: RiskMethod, town: shapely.Geometry,
              construction: list[shapely.Geometry]) -> dict[str, float]:
    """Construction area and exposed area per exposure (m²) in one township
    (cells whose centre is in the township and in a construction polygon)."""
    names = sorted({e.factor for e in method.exposures})
    with rasterio.open(factor_dir / f"{names[0]}.tif") as src:
        inv = ~src.transform
        c0, r0 = inv @ (town.bounds[0], town.bounds[3])
        c1, r1 = inv @ (town.bounds[2], town.bounds[1])
        c0, r0 = max(int(np.floor(c0)), 0), max(int(np.floor(r0)), 0)
        c1, r1 = min(int(np.ceil(c1)), src.width), min(int(np.ceil(r1)), src.height)
        window = Window(c0, r0, max(c1 - c0, 0), max(r1 - r0, 0))
        transform = src.window_transform(window)
    shape = (int(window.height), int(window.width))
    if not construction or 0 in shape:
        return {"construction_m2": 0.0, **{e.name: 0.0 for e in method.exposures}}
    # the construction in the township: its cells inside the township's cells
    inside = rasterize([(town, 1)], out_shape=shape, transform=transform, fill=0, dtype="uint8") == 1
    built = inside & (rasterize([(g, 1) for g in construction], out_shape=shape, transform=transform, fill=0,
                                dtype="uint8") == 1)
    grid = Grid(transform, shape[1], shape[0], 1, window)
    area = np.broadcast_to(cell_area(grid, 0, shape[0], 0, shape[1]), shape)
    out = {"construction_m2": float(area[built].sum())}
    values = {}
    for name in names:
        with rasterio.open(factor_dir / f"{name}.tif") as src:
            values[name] = src.read(1, window=window)
    for e in method.exposures:
        out[e.name] = float(area[built & e.cells(values[e.factor])].sum())
    return out


def risk_by_township(database_url: str, factor_dir: Path, method: RiskMethod, region_wkb: bytes,
                     to_grid: Any, client: Any = None) -> list[dict[str, Any]]:
    """Per township meeting the region: construction area, the exposed
    areas and shares, the risk level and its reasons."""
    check_factors(factor_dir, sorted({e.factor for e in method.exposures}))
    prefixes = "|".join(method.construction_codes)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f"""
            WITH r AS (SELECT ST_GeomFromWKB(%s, 4490) AS geom),
            t AS (SELECT * FROM (
                    SELECT x.xzqdm, x.xzqmc, ST_CollectionExtract(ST_Intersection(x.geom, r.geom), 3) AS geom
                    FROM base.xzq x, r WHERE x.xzqjb = '乡' AND ST_Intersects(x.geom, r.geom)) s
                  WHERE NOT ST_IsEmpty(geom)),
            c AS (SELECT geom FROM plan.ghydyh WHERE {in_force()} AND ydyhdm ~ ('^(' || %s || ')')
                  UNION ALL SELECT geom FROM impl.jsxm)
            SELECT t.xzqdm, t.xzqmc, ST_AsBinary(t.geom),
                   array_agg(ST_AsBinary(c.geom)) FILTER (WHERE c.geom IS NOT NULL)
            FROM t LEFT JOIN c ON c.geom && t.geom   -- exact: the township mask in _township
            GROUP BY t.xzqdm, t.xzqmc, t.geom ORDER BY t.xzqdm""",  # noqa: S608 - in_force() is fixed SQL
            (region_wkb, prefixes)).fetchall()
    tasks = []
    for _, _, town, parts in rows:
        town_gk, *parts_gk = to_grid([shapely.from_wkb(town), *(shapely.from_wkb(p) for p in parts or [])])
        tasks.append(dask.delayed(_township)(factor_dir, method, town_gk,
                                             [p for p in parts_gk if shapely.get_dimensions(p) == 2]))
    sched = client if client is not None else scheduler()
    try:
        results = dask.compute(*tasks, scheduler=sched)
    finally:
        if client is None and sched != "threads":
            sched.close()
    out = []
    for (code, name, _, _), areas in zip(rows, results, strict=True):
        built = areas["construction_m2"]
        shares = {e.name: (areas[e.name] / built if built else 0.0) for e in method.exposures}
        level = method.level(shares)
        reasons = [f"{e.title}：{areas[e.name] / 10_000:.2f} 公顷（占建设用地 {shares[e.name]:.1%}）"
                   for e in method.exposures if areas[e.name] > 0]
        out.append({"xzqdm": code, "xzqmc": name, "level": level, "construction_ha": round(built / 10_000, 4),
                    "exposures": {e.name: {"title": e.title, "area_ha": round(areas[e.name] / 10_000, 4),
                                           "share": round(shares[e.name], 6)} for e in method.exposures},
                    "reasons": reasons})
    return out

