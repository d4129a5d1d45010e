"""One evaluation run (评价运行): validate the inputs, resolve the region,
compute in chunks, tabulate the class areas per township and county,
the carrying capacity and the report; written into
var/evaluation/runs/{run_id}/ all at once (a failed run leaves nothing) and
recorded in the audit trail."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from pyproj import Transformer

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import invalid
from onemap.core.settings import Settings
from onemap.core.units import M2_PER_HA, M2_PER_MU
from processes.evaluation.compute import GRID_CRS, Zones, run_evaluation
from processes.evaluation.method import Method, find_method
from processes.evaluation.model import OUTPUTS
from processes.evaluation.polygons import publish
from processes.evaluation.risk import area_units, find_risk_method, risk_by_township

TITLES = {"ecology": ("生态保护重要性", "Ecological protection importance"),
          "agriculture": ("农业生产适宜性", "Agricultural production suitability"),
          "construction": ("城镇建设适宜性", "Urban construction suitability")}
RUN_ID_CHARS = frozenset("0123456789abcdef-")

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Request:
    xzqdm: str | None = None
    boundary: dict[str, Any] | None = None
    method: str | None = None
    resolution: float | None = None
    base_year: int | None = None       # risk-evaluation: the land-use year cropland loss counts from


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    county: str


def runs_dir(settings: Settings) -> Path:
    return settings.evaluation_dir / "runs"


def run_path(settings: Settings, run_id: str, name: str) -> Path:
    """A file of a run; the id is checked (it comes from a URL)."""
    if not run_id or not set(run_id) <= RUN_ID_CHARS:
        raise invalid("runId", f"评价运行 {run_id} 不存在", f"No evaluation run {run_id}", 404)
    return runs_dir(settings) / run_id / name


def _region(conn: psycopg.Connection, request: Request) -> tuple[shapely.Geometry, str, dict[str, Any]]:
    """The region in EPSG:4490 (inside the city), its label, the city's units."""
    city = conn.execute("SELECT xzqdm, xzqmc, ST_AsBinary(geom) FROM base.xzq WHERE xzqjb = '市'").fetchone()
    if city is None:
        raise invalid(None, "没有行政区数据（示例城市未加载）", "No admin units are loaded", 503)
    city_geom = shapely.from_wkb(city[2])
    if request.xzqdm:
        row = conn.execute("SELECT xzqmc, ST_AsBinary(geom) FROM base.xzq WHERE xzqdm = %s",
                           (request.xzqdm,)).fetchone()
        if row is None:
            raise invalid("xzqdm", f"行政区代码 {request.xzqdm} 不存在", f"No admin unit {request.xzqdm}", 404)
        return shapely.from_wkb(row[1]), f"{row[0]}（{request.xzqdm}）", {}
    if request.boundary is not None:
        try:
            geom = shapely.from_geojson(json.dumps(request.boundary))
        except Exception:
            raise invalid("boundary", "边界不是有效的 GeoJSON 几何", "The boundary is not a GeoJSON geometry") from None
        if shapely.get_dimensions(geom) != 2 or not geom.is_valid:
            raise invalid("boundary", "边界应为有效的面（Polygon / MultiPolygon）",
                          "The boundary must be a valid Polygon or MultiPolygon")
        inside = shapely.intersection(geom, city_geom)
        if inside.is_empty or inside.area < 1e-12:
            raise invalid("boundary", f"边界在{city[1]}范围之外", f"The boundary lies outside the city ({city[0]})")
        return inside, "绘制范围 / drawn boundary", {}
    return city_geom, f"{city[1]}（{city[0]}）", {}


def _units(conn: psycopg.Connection, region: shapely.Geometry) -> tuple[list[Unit], list[shapely.Geometry],
                                                                         dict[str, str]]:
    """The townships meeting the region (EPSG:4490) and the county names."""
    rows = conn.execute(
        "SELECT xzqdm, xzqmc, xzqjb, sjxzqdm, ST_AsBinary(geom) FROM base.xzq WHERE xzqjb IN ('县', '乡') "
        "AND ST_Intersects(geom, ST_GeomFromWKB(%s, 4490)) ORDER BY xzqdm", (shapely.to_wkb(region),)).fetchall()
    counties = {r[0]: r[1] for r in rows if r[2] == "县"}
    towns = [r for r in rows if r[2] == "乡"]
    return ([Unit(r[0], r[1], r[3]) for r in towns], [shapely.from_wkb(r[4]) for r in towns], counties)


def to_grid(geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    to_gk = Transformer.from_crs("EPSG:4490", GRID_CRS, always_xy=True)
    return list(shapely.transform(np.array(geoms, dtype=object),
                                  lambda c: np.column_stack(to_gk.transform(c[:, 0], c[:, 1]))))


def _area(m2: float, total: float) -> dict[str, float]:
    return {**area_units(m2), "share": round(m2 / total, 6) if total else 0.0}


def tabulate(method: Method, areas: np.ndarray, units: list[Unit], counties: dict[str, str]) -> dict[str, Any]:
    """Class areas per output: per township, per county and in total."""
    out: dict[str, Any] = {}
    for k, name in enumerate(OUTPUTS):
        scale = method.ecology_scale if name == "ecology" else method.suitability[name].scale
        by_zone = areas[k, 1:, 1:len(scale) + 1]      # townships × classes
        rows: dict[str, list[dict[str, Any]]] = {"township": [], "county": []}
        county_sum: dict[str, np.ndarray] = {}
        for unit, values in zip(units, by_zone, strict=True):
            if values.sum() <= 0:
                continue
            county_sum[unit.county] = county_sum.get(unit.county, 0) + values
            rows["township"].append(_unit_row(unit.code, unit.name, scale, values))
        for code, values in sorted(county_sum.items()):
            rows["county"].append(_unit_row(code, counties.get(code, code), scale, values))
        total = by_zone.sum(axis=0)
        out[name] = {"title": dict(zip(("zh", "en"), TITLES[name], strict=True)), "classes": list(scale),
                     "total": [{"class": c, "code": i + 1, **_area(float(total[i]), float(total.sum()))}
                               for i, c in enumerate(scale)], **rows}
    return out


def _unit_row(code: str, name: str, scale: tuple[str, ...], values: np.ndarray) -> dict[str, Any]:
    total = float(values.sum())
    return {"xzqdm": code, "xzqmc": name, "area_m2": round(total, 2),
            "classes": [{"class": c, **_area(float(values[i]), total)} for i, c in enumerate(scale)]}


def carrying_capacity(method: Method, table: dict[str, Any]) -> dict[str, Any]:
    """承载规模: the suitable area against the water limit; the smaller holds."""
    cap = method.carrying_capacity
    out: dict[str, Any] = {}
    for name in ("agriculture", "construction"):
        node = cap[name]
        land_ha = sum(r["area_ha"] for r in table[name]["total"] if r["class"] in node["classes"])
        if name == "agriculture":
            water_ha = node["water_available_m3"] / node["irrigation_quota_m3_per_ha"]
            title = "可承载耕地规模 / farmland carrying scale"
        else:
            people = node["water_available_m3"] / node["per_capita_water_m3"]
            water_ha = people * node["per_capita_land_m2"] / M2_PER_HA
            title = "可承载城镇建设规模 / urban construction carrying scale"
        scale_ha = min(land_ha, water_ha)
        out[name] = {"title": title, "classes": node["classes"], "land_limit_ha": round(land_ha, 2),
                     "water_limit_ha": round(water_ha, 2), "scale_ha": round(scale_ha, 2),
                     "scale_mu": round(scale_ha * M2_PER_HA / M2_PER_MU, 2),
                     "limited_by": "土地 / land" if land_ha <= water_ha else "水资源 / water"}
    return out


def evaluate(settings: Settings, request: Request, principal: Principal, job_id: str | None,
             progress: Progress, process_id: str, client: Any = None) -> dict[str, Any]:
    """Run the double evaluation; the summary (also in summary.json)."""
    method = find_method(request.method)
    url = settings.database_url
    with psycopg.connect(url) as conn:
        region, label, _ = _region(conn, request)
        units, towns, counties = _units(conn, region)
    run_id = str(uuid.UUID(job_id)) if job_id and _is_uuid(job_id) else str(uuid.uuid4())
    final = runs_dir(settings) / run_id
    work = final.with_name(run_id + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        progress(10, "读取评价因子 / reading the factor rasters")
        region_gk, *towns_gk = to_grid([region, *towns])
        areas = run_evaluation(method, settings.evaluation_dir / "factors", Zones(region_gk, towns_gk),
                               request.resolution, work, progress, client)
        table = tabulate(method, areas, units, counties)
        summary = {"run_id": run_id, "process": process_id, "method": {"version": method.version,
                                                                       "title": method.title,
                                                                       "file": method.source},
                   "region": label, "crs": "EPSG:4546", "resolution_m": _resolution(work),
                   "run_by": principal.name, "areas": table, "carrying_capacity": carrying_capacity(method, table),
                   "rasters": {name: f"{name}.tif" for name in OUTPUTS}}
        progress(85, "生成评价报告 / rendering the report")
        from processes.evaluation.report import report_pdf

        (work / "report.pdf").write_bytes(report_pdf(summary, work))
        body = json.dumps(summary, ensure_ascii=False, sort_keys=True).encode()
        (work / "summary.json").write_bytes(body)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    published = publish(settings, final, method.version)
    _audit(url, principal, f"/processes/{process_id}/{run_id}", request, body, method.version, label,
           published=published)
    return summary


def _audit(url: str, principal: Principal, target: str, request: Request, body: bytes, version: str,
           region: str, **detail: Any) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        audit.record(conn, principal, "EXECUTE", target, 200,
                     input_sha256=hashlib.sha256(json.dumps(request.__dict__, sort_keys=True, default=str)
                                                 .encode()).hexdigest(),
                     output_sha256=audit.sha256_hex(body), detail={"method": version, "region": region, **detail})


def _resolution(work: Path) -> float:
    import rasterio

    with rasterio.open(work / "ecology.tif") as src:
        return float(src.res[0])


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def load_summary(settings: Settings, run_id: str) -> dict[str, Any]:
    path = run_path(settings, run_id, "summary.json")
    if not path.exists():
        raise invalid("runId", f"评价运行 {run_id} 不存在", f"No evaluation run {run_id}", 404)
    return json.loads(path.read_text(encoding="utf-8"))


def evaluate_risk(settings: Settings, request: Request, principal: Principal, progress: Progress,
                  process_id: str) -> tuple[dict[str, Any], bytes]:
    """开发保护风险评估 per township in the region, audited: the summary and
    its Chinese PDF report."""
    from processes.evaluation.report import risk_report_pdf

    method = find_risk_method(request.method)
    url = settings.database_url
    with psycopg.connect(url) as conn:
        region, label, _ = _region(conn, request)
    progress(10, "按乡镇评估风险 / evaluating the townships")
    years, townships = risk_by_township(url, settings.evaluation_dir / "factors", method, shapely.to_wkb(region),
                                        to_grid, request.base_year)
    levels = [level for level, _ in method.levels]
    loss = method.cropland_loss
    lost = sum(t["cropland_loss"]["area_m2"] for t in townships)
    result = {"method": {"version": method.version, "file": method.source}, "region": label,
              "levels": {level: sum(t["level"] == level for t in townships) for level in levels},
              "cropland_loss": {"title": loss.title, "base_year": years.base, "to_year": years.latest,
                                "threshold_ha": loss.threshold_ha, "level": loss.level,
                                **area_units(lost), "townships_above": sum(
                                    t["cropland_loss"]["above_threshold"] for t in townships)},
              "townships": townships}
    progress(85, "生成风险评估报告 / rendering the report")
    report = risk_report_pdf(result)
    body = json.dumps(result, ensure_ascii=False, sort_keys=True).encode()
    _audit(url, principal, f"/processes/{process_id}", request, body, method.version, label)
    return result, report
