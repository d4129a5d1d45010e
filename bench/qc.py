"""plan-qc on a city-scale planned land use package (about 1,000,000
GHYDYH polygons, a Voronoi tiling of the city's 85 townships), against

  * shapely:  what a script would do — read the layer, STRtree query of
    intersecting pairs, intersection area of each pair (the overlap rule
    only; STRtree-based, a naive all-pairs loop being 10^12 pairs);
  * raw SQL:  the same topology rules as plain PostGIS SQL, written the
    straightforward way (self-join with ST_Intersects and ST_Intersection,
    gaps as ST_Difference of the two unions), on the same staged tables.

Prints wall time and peak memory (this process with its children, and the
PostgreSQL backends) and the ratios. BENCH_POLYGONS sets the size;
BENCH_RAW_SQL=0 leaves out the raw SQL peer, BENCH_SQL_TIMEOUT (s) bounds
each of its statements. The package is built once (var/bench/ghydyh-N.gpkg).

    DATABASE_URL=$(cat var/database_url) .venv/bin/python bench/qc.py
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import Geod

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, env_int  # noqa: E402
from onemap.core.db import connect  # noqa: E402
from processes.qc.run import run_qc  # noqa: E402

GEOD = Geod(ellps="GRS80")
X0, Y0, W, H = 110.8, 27.9, 1.15, 1.0       # a city-sized box, about 112 km x 111 km
TOWNSHIPS = (17, 5)                          # 85 townships


def build_package(path: Path, n: int) -> None:
    """XZQ (85 townships) and GHYDYH (n Voronoi cells clipped to them)."""
    rng = np.random.default_rng(1)
    tx, ty = TOWNSHIPS
    townships = [shapely.box(X0 + i * W / tx, Y0 + j * H / ty, X0 + (i + 1) * W / tx, Y0 + (j + 1) * H / ty)
                 for i in range(tx) for j in range(ty)]
    cells, codes, units = [], [], []
    per = n // len(townships)
    for k, t in enumerate(townships):
        x0, y0, x1, y1 = t.bounds
        pts = shapely.multipoints(np.column_stack([rng.uniform(x0, x1, per), rng.uniform(y0, y1, per)]))
        parts = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=t))
        parts = shapely.intersection(parts, t)
        cells.append(parts)
        codes.append(rng.choice(["0101", "0103", "0301", "0701", "1001", "1202"], len(parts)))
        units.append(np.full(len(parts), f"430900{k + 1:03d}"))
    geoms = np.array([shapely.MultiPolygon([g]) for g in np.concatenate(cells)], dtype=object)
    codes, units = np.concatenate(codes), np.concatenate(units)
    names = {"0101": "水田", "0103": "旱地", "0301": "乔木林地", "0701": "城镇住宅用地", "1001": "工业用地",
             "1202": "公路用地"}
    mj = np.array([abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(g))[0]) for g in geoms]).round(2)
    xzq = np.array([shapely.MultiPolygon([t]) for t in townships], dtype=object)
    xzq_mj = np.array([abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(g))[0]) for g in xzq]).round(2)
    path.unlink(missing_ok=True)
    pyogrio.raw.write(path, geometry=shapely.to_wkb(xzq), field_data=[
        np.array([f"430900{k + 1:03d}" for k in range(len(xzq))], dtype=object),
        np.array([f"乡镇{k + 1}" for k in range(len(xzq))], dtype=object), xzq_mj],
        fields=["XZQDM", "XZQMC", "MJ"], layer="XZQ", driver="GPKG", geometry_type="MultiPolygon",
        crs="EPSG:4490")
    pyogrio.raw.write(path, geometry=shapely.to_wkb(geoms), field_data=[
        codes.astype(object), np.array([names[c] for c in codes], dtype=object), units.astype(object), mj],
        fields=["YDYHDM", "YDYHMC", "XZQDM", "MJ"], layer="GHYDYH", driver="GPKG",
        geometry_type="MultiPolygon", crs="EPSG:4490", append=True)


class PostgresMemory(threading.Thread):
    """Peak of the summed resident memory of the PostgreSQL processes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.running = True

    @staticmethod
    def sample() -> int:
        total = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/status") as f:
                    status = f.read()
            except OSError:
                continue
            if "\nName:\tpostgres" in "\n" + status:
                for line in status.splitlines():
                    if line.startswith("RssAnon:"):  # private memory, not the shared buffers
                        total += int(line.split()[1]) * 1024
        return total

    def run(self) -> None:
        base = self.sample()
        while self.running:
            self.peak = max(self.peak, self.sample() - base)
            time.sleep(0.5)


def measure(name: str, fn) -> tuple[float, int, int, object]:
    watcher = PostgresMemory()
    watcher.start()
    started = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - started
    watcher.running = False
    watcher.join()
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"{name:<44} {wall:>9.1f} s   python {me / 2**30:5.2f} GB   children {children / 2**30:5.2f} GB   "
          f"postgres +{watcher.peak / 2**30:5.2f} GB", flush=True)
    return wall, me, watcher.peak, result


def shapely_overlaps(path: Path) -> int:
    """What a script would do: STRtree pairs, intersection areas."""
    _, _, wkb, _ = pyogrio.raw.read(path, layer="GHYDYH")
    geoms = shapely.from_wkb(wkb)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    overlaps = 0
    for start in range(0, len(a), 200_000):
        inter = shapely.intersection(geoms[a[start:start + 200_000]], geoms[b[start:start + 200_000]])
        # degrees² to m² near 28.5°N: a script's shortcut
        overlaps += int(np.sum(shapely.area(inter) * 97_800 * 110_800 > 1.0))
    return overlaps


RAW_SQL = {
    "overlaps": """SELECT count(*) FROM {t} a JOIN {t} b ON a.fid < b.fid AND ST_Intersects(a.geom, b.geom)
                   WHERE ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 1""",
    "gaps": """SELECT count(*) FROM (SELECT (ST_Dump(ST_Difference(
                   (SELECT ST_Union(geom) FROM {x}), (SELECT ST_Union(geom) FROM {t})))).geom) g
               WHERE ST_Area(geom::geography) > 1""",
    "outside": """SELECT count(*) FROM {t} t, (SELECT ST_Union(geom) AS geom FROM {x}) x
                  WHERE ST_Area(ST_Difference(t.geom, x.geom)::geography) > 1""",
    "area": """SELECT count(*) FROM {t} WHERE abs(mj - ST_Area(geom::geography)) > greatest(0.001 * mj, 1)""",
}


def raw_sql(database_url: str, path: Path, timeout_s: int) -> dict[str, float | None]:
    """The same rules as plain SQL on plainly loaded tables (ogr2ogr, GiST)."""
    import subprocess
    from urllib.parse import unquote, urlparse

    url = urlparse(database_url)
    dsn = (f"PG:dbname='{url.path.lstrip('/')}' host='{url.hostname}' port='{url.port}' "
           f"user='{unquote(url.username or '')}'")
    env = {**os.environ, "PGPASSWORD": unquote(url.password or "")}
    times: dict[str, float | None] = {}
    with connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_raw CASCADE; CREATE SCHEMA bench_raw")
        try:
            started = time.perf_counter()
            for layer in ("XZQ", "GHYDYH"):
                subprocess.run(["ogr2ogr", "-f", "PostgreSQL", dsn, str(path), layer, "-lco", "SCHEMA=bench_raw",
                                "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco", "UNLOGGED=ON",
                                "-nln", layer.lower(), "--config", "PG_USE_COPY", "YES"], check=True, env=env,
                               capture_output=True)
            times["load"] = time.perf_counter() - started
            conn.execute(f"SET statement_timeout = '{timeout_s}s'")
            for name, query in RAW_SQL.items():
                started = time.perf_counter()
                try:
                    conn.execute(query.format(t="bench_raw.ghydyh", x="bench_raw.xzq")).fetchone()
                    times[name] = time.perf_counter() - started
                except Exception as exc:  # a timeout is a result here
                    print(f"    raw SQL {name}: {exc.__class__.__name__} after {time.perf_counter() - started:.0f} s")
                    times[name] = None
        finally:
            conn.execute("DROP SCHEMA IF EXISTS bench_raw CASCADE")
    return times


class StepTimer:
    """plan-qc's progress messages with the time each step took (staging, every rule, listing)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    def __call__(self, _percent: int, message: str) -> None:
        self.steps.append((message, time.perf_counter()))

    def report(self, end: float) -> str:
        marks = [*self.steps, ("end", end)]
        return "\n".join(f"      {b[1] - a[1]:7.1f} s  {a[0]}" for a, b in zip(marks, marks[1:], strict=False))


def main() -> None:
    n = env_int("BENCH_POLYGONS", 1_000_000)
    database_url = os.environ.get("DATABASE_URL") or (ROOT / "var" / "database_url").read_text().strip()
    path = ROOT / "var" / "bench" / f"ghydyh-{n}.gpkg"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        started = time.perf_counter()
        build_package(path, n)
        print(f"package built: {path} ({path.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - started:.0f} s")
    polygons = pyogrio.read_info(path, layer="GHYDYH")["features"]
    print(f"\nplan-qc benchmark: {polygons} GHYDYH polygons, {os.cpu_count()} cores\n")
    steps = StepTimer()
    qc_wall, qc_mem, qc_pg, result = measure("plan-qc (every rule, staging + GiST)",
                                             lambda: run_qc(database_url, path, edition="2021", progress=steps))
    qc_end = time.perf_counter()
    print(f"    findings by rule: {result.counts}")
    print("    plan-qc steps (from its progress messages):\n" + steps.report(qc_end))
    sh_wall, sh_mem, _, overlaps = measure("shapely STRtree overlap check (one rule)", lambda: shapely_overlaps(path))
    print(f"    overlapping pairs > 1 m²: {overlaps}")
    print(f"\nratio shapely (1 rule) / plan-qc (all rules): {sh_wall / qc_wall:.2f}")
    if os.environ.get("BENCH_RAW_SQL", "1") != "0":  # BENCH_RAW_SQL=0: minutes saved at city scale
        raw_wall, _, _, times = measure("raw PostGIS SQL (overlap, gap, outside, area)",
                                        lambda: raw_sql(database_url, path, env_int("BENCH_SQL_TIMEOUT", 1200)))
        print("    raw SQL steps (s): " + ", ".join(f"{k} {'timeout' if v is None else f'{v:.0f}'}"
                                                     for k, v in times.items()))
        done = "" if all(v is not None for v in times.values()) else " (lower bound: a step timed out)"
        print(f"ratio raw SQL / plan-qc: {raw_wall / qc_wall:.2f}{done}")
    in_all = (qc_mem + qc_pg) / 2**30
    print(f"target (issue 14): plan-qc <= 60 s and <= 2 GB in all: {qc_wall:.0f} s "
          f"({'met' if qc_wall <= 60 else 'MISSED'}), bench process {qc_mem / 2**30:.2f} GB + postgres "
          f"+{qc_pg / 2**30:.2f} GB = {in_all:.2f} GB ({'met' if in_all <= 2 else 'MISSED'}); "
          f"the one-rule shapely script {sh_wall:.1f} s")
    print(f"(measured {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
