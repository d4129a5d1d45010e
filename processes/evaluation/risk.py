"""开发保护风险评估 Development and protection risk per township: how much of
the planned construction (GHYDYH in force, construction classes) and the
current projects (JSXM) lies on hazard-exposed cells, on ecological sources
and on current cropland, read from the factor rasters; and how much
cropland became construction between a base land-use year and now (the
annual changes, supervision.dltb_change); the method in
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
from psycopg import sql
from rasterio.features import rasterize
from rasterio.windows import Window

from onemap.core.errors import invalid
from onemap.core.inforce import in_force
from onemap.core.landuse import landuse_code_sql
from onemap.core.units import M2_PER_HA, M2_PER_MU
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
class CroplandLoss:
    """耕地流失: cropland (planning classes, through the survey crosswalk) of
    the base year that is construction now; above the threshold it is a
    reason and makes the township at least `level`."""

    title: str
    cropland_codes: tuple[str, ...]
    threshold_ha: float
    level: str


@dataclass(frozen=True)
class RiskMethod:
    version: str
    construction_codes: tuple[str, ...]
    exposures: tuple[Exposure, ...]
    levels: tuple[tuple[str, float], ...]       # (level, share at least), highest first
    cropland_loss: CroplandLoss
    source: str

    def level(self, shares: dict[str, float], loss_ha: float = 0.0) -> str:
        worst = max(shares.values(), default=0.0)
        names = [level for level, _ in self.levels]
        by_share = next(level for level, least in self.levels if worst >= least)
        if loss_ha > self.cropland_loss.threshold_ha:
            return min(by_share, self.cropland_loss.level, key=names.index)
        return by_share


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
    node = r.get(doc, "cropland_loss", "", dict)
    loss = CroplandLoss(str(r.get(node, "title", "cropland_loss", str)),
                        tuple(str(c) for c in r.get(node, "cropland_codes", "cropland_loss", list)),
                        float(r.get(node, "threshold_ha", "cropland_loss", int | float)),
                        str(r.get(node, "level", "cropland_loss", str)))
    if loss.level not in [level for level, _ in levels]:
        raise r.fail("cropland_loss.level", f"未知的风险等级“{loss.level}”", f"unknown risk level '{loss.level}'")
    if not loss.cropland_codes or loss.threshold_ha < 0:
        raise r.fail("cropland_loss", "应给出耕地类别代码和非负阈值", "needs cropland codes and a threshold of 0 or more")
    return RiskMethod(str(r.get(doc, "version", "", str | int | float)), tuple(str(c) for c in codes),
                      tuple(exposures), tuple(levels), loss, source)


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


@dataclass(frozen=True)
class Years:
    """The land-use years compared: the base year's land use (the current
    one with the changes of later years undone) against the latest."""

    base: int | None                  # None: no annual changes are loaded
    latest: int | None


def change_years(conn: psycopg.Connection, base_year: int | None) -> Years:
    """The base year (default: the earliest year with changes), checked."""
    first, last = conn.execute("SELECT min(year), max(year) FROM supervision.dltb_change").fetchone()
    if base_year is None:
        return Years(first, last)
    if first is None or not first - 1 <= base_year < last:
        span = f"{first - 1}–{last - 1}" if first is not None else "—"
        raise invalid("base_year", f"基期年度 {base_year} 不在年度变更数据的范围内（可选 {span}）",
                      f"The base year {base_year} is outside the years of the annual changes ({span})")
    return Years(base_year, last)


def cropland_loss_by_township(conn: psycopg.Connection, method: RiskMethod, region_wkb: bytes,
                              years: Years) -> dict[str, float]:
    """Cropland of the base year that is construction now (m², ellipsoidal)
    per township, in the region: parcels changed after the base year whose
    class then (the first later change's dlbm_before) was cropland and whose
    class now is construction, both through the crosswalk."""
    if years.base is None:
        return {}
    like = [c + "%" for c in method.cropland_loss.cropland_codes]
    built = [c + "%" for c in method.construction_codes]
    rows = conn.execute(sql.SQL("""
        WITH r AS (SELECT ST_GeomFromWKB(%(r)s, 4490) AS geom),
        t AS MATERIALIZED (SELECT x.xzqdm, ST_Intersection(x.geom, r.geom) AS geom FROM base.xzq x, r
              WHERE x.xzqjb = '乡' AND ST_Intersects(x.geom, r.geom)),
        lost AS (SELECT d.geom FROM base.dltb d
                 CROSS JOIN LATERAL (SELECT c.dlbm_before FROM supervision.dltb_change c
                                     WHERE c.dltb_id = d.id AND c.year > %(base)s ORDER BY c.year LIMIT 1) b
                 WHERE {before} LIKE ANY(%(cropland)s) AND {now} LIKE ANY(%(built)s))
        SELECT t.xzqdm, sum(CASE WHEN ST_Covers(t.geom, l.geom) THEN ST_Area(l.geom::geography)
                                 ELSE ST_Area(ST_Intersection(l.geom, t.geom)::geography) END)
        FROM t JOIN lost l ON ST_Intersects(l.geom, t.geom) GROUP BY t.xzqdm""").format(
        before=landuse_code_sql(sql.SQL("b.dlbm_before")), now=landuse_code_sql(sql.SQL("d.dlbm"))),
        {"r": region_wkb, "base": years.base, "cropland": like, "built": built}).fetchall()
    return {code: float(m2) for code, m2 in rows}


def area_units(m2: float) -> dict[str, float]:
    """An area in m², ha and 亩, rounded as the results show it."""
    return {"area_m2": round(m2, 2), "area_ha": round(m2 / M2_PER_HA, 4), "area_mu": round(m2 / M2_PER_MU, 2)}


def risk_by_township(database_url: str, factor_dir: Path, method: RiskMethod, region_wkb: bytes,
                     to_grid: Any, base_year: int | None = None, client: Any = None) -> tuple[Years, list[dict[str, Any]]]:
    """The years compared and, per township meeting the region: construction
    area, the exposed areas and shares, the cropland lost, the risk level
    and its reasons."""
    check_factors(factor_dir, sorted({e.factor for e in method.exposures}))
    prefixes = "|".join(method.construction_codes)
    with psycopg.connect(database_url) as conn:
        years = change_years(conn, base_year)
        loss_m2 = cropland_loss_by_township(conn, method, region_wkb, years)
        rows = conn.execute(f"""
            WITH r AS (SELECT ST_GeomFromWKB(%s, 4490) AS geom),
            t AS MATERIALIZED (SELECT * FROM (
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
    loss = method.cropland_loss
    for (code, name, _, _), areas in zip(rows, results, strict=True):
        built = areas["construction_m2"]
        shares = {e.name: (areas[e.name] / built if built else 0.0) for e in method.exposures}
        lost = loss_m2.get(code, 0.0)
        level = method.level(shares, lost / M2_PER_HA)
        reasons = [f"{e.title}：{areas[e.name] / 10_000:.2f} 公顷（占建设用地 {shares[e.name]:.1%}）"
                   for e in method.exposures if areas[e.name] > 0]
        above = lost / M2_PER_HA > loss.threshold_ha
        if above:
            reasons.append(f"{loss.title}（{years.base} 年至 {years.latest} 年）：{lost / M2_PER_HA:.2f} 公顷"
                           f"（{lost / M2_PER_MU:.1f} 亩），超过阈值 {loss.threshold_ha:g} 公顷")
        out.append({"xzqdm": code, "xzqmc": name, "level": level, "construction_ha": round(built / 10_000, 4),
                    "exposures": {e.name: {"title": e.title, "area_ha": round(areas[e.name] / 10_000, 4),
                                           "share": round(shares[e.name], 6)} for e in method.exposures},
                    "cropland_loss": {"title": loss.title, **area_units(lost), "above_threshold": above},
                    "reasons": reasons})
    return years, out

