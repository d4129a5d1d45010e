"""Benchmark: the suitability evaluation (生态保护重要性, 农业生产 and 城镇建设
适宜性) for the whole city at 10 m, chunked with Dask (local threads), against
(a) plain numpy on whole arrays and (b) gdal_calc.py on the same factors.

    .venv/bin/python bench/evaluation.py [RESOLUTION_M [CONTENDER ...]]

RESOLUTION_M defaults to 10; CONTENDER is dask, numpy or gdal_calc, all three
by default (naming only dask times it alone while iterating; figures to
report come from a run with the peers). Needs the factor rasters of a demo load.

The factors of the last demo load (var/evaluation/factors/) are resampled
to the resolution by GDAL virtual rasters (gdalbuildvrt -tr, nearest): every
contender reads the same cells. Each contender runs in a process of its own;
its peak memory is that process's maximum resident set (ru_maxrss). The Dask
run evaluates all three outputs over the city outline and sums the class
areas per township; numpy evaluates the same three outputs over the whole
grid; gdal_calc.py evaluates one output (农业生产适宜性, the method compiled to
one numpy expression), so its time is multiplied by three in the ratio.
numpy is skipped when its arrays would not fit in half the free memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onemap.core.settings import Settings  # noqa: E402
from processes.evaluation.method import Condition, Grading, Method, find_method  # noqa: E402


def virtual_factors(method: Method, source: Path, resolution: float, out: Path) -> tuple[int, int]:
    for name in method.factors:
        subprocess.run(["gdalbuildvrt", "-q", "-tr", str(resolution), str(resolution), "-r", "nearest",
                        str(out / f"{name}.tif"), str(source / f"{name}.tif")], check=True)
    with rasterio.open(out / f"{method.factors[0]}.tif") as src:
        return src.width, src.height


# --- contenders, each run in a child process ---------------------------------

def run_dask(directory: Path, out: Path) -> dict:
    import psycopg
    import shapely

    from processes.evaluation.compute import Zones, run_evaluation
    from processes.evaluation.service import to_grid

    with psycopg.connect(Settings.from_env().database_url) as conn:
        rows = conn.execute("SELECT xzqjb, ST_AsBinary(geom) FROM base.xzq WHERE xzqjb IN ('市', '乡') "
                            "ORDER BY xzqdm").fetchall()
    geoms = to_grid([shapely.from_wkb(r[1]) for r in rows])
    city = next(g for g, r in zip(geoms, rows, strict=True) if r[0] == "市")
    towns = [g for g, r in zip(geoms, rows, strict=True) if r[0] == "乡"]
    areas = run_evaluation(find_method(None), directory, Zones(city, towns), None, out, lambda *_: None)
    return {"city_km2": round(float(areas[0, 1:, 1:].sum()) / 1e6, 1)}


def run_numpy(directory: Path, out: Path) -> dict:
    from processes.evaluation.model import evaluate

    method = find_method(None)
    factors, valid = {}, None
    for name in method.factors:
        with rasterio.open(directory / f"{name}.tif") as src:
            values = src.read(1).astype(np.float32)
            profile = src.profile
            ok = values != src.nodata
        valid = ok if valid is None else valid & ok
        factors[name] = values
    classes = evaluate(method, factors, valid)
    profile.update(driver="GTiff", dtype="uint8", nodata=0, tiled=True, compress="deflate", count=3)
    with rasterio.open(out / "numpy.tif", "w", **profile) as dst:
        for i, values in enumerate(classes.values()):
            dst.write(values, i + 1)
    return {}


def _grading_expr(g: Grading, band: str) -> str:
    if g.values is not None:
        expr = f"full({band}.shape, {len(g.scale) - 1})"
        for code, index in g.values.items():
            expr = f"where({band} == {code}, {index}, {expr})"
        return expr
    if g.descending:
        return f"(expand_dims({band}, -1) < array({list(g.breaks)})).sum(-1)"
    return f"searchsorted(array({list(g.breaks)}), {band})"


def gdal_calc_expression(method: Method) -> tuple[str, dict[str, str]]:
    """农业生产适宜性 as one numpy expression over lettered factor bands."""
    letters = dict(zip(method.factors, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", strict=False))
    grades = {name: _grading_expr(g, letters[g.factor]) for name, g in method.singles.items()}
    ecology = "minimum.reduce([" + ", ".join(_grading_expr(c, letters[c.factor]) for c in method.ecology) + "])"
    model = method.suitability["agriculture"]

    def cond(c: Condition) -> str:
        if c.single is not None:
            return f"isin({grades[c.single]}, {list(c.classes)})"
        if c.factor is not None:
            return f"({letters[c.factor]} > {c.above})"
        return f"isin({ecology}, {list(c.ecology)})"

    expr = f"array({model.matrix.tolist()})[{grades[model.rows]}, {grades[model.columns]}]"
    for where, shift in model.corrections:
        expr = f"where({cond(where)}, {expr} + {shift}, {expr})"
    expr = f"array({model.mapping.tolist()})[clip({expr}, 0, {len(model.mapping) - 1})]"
    for where, index in model.overrides:
        expr = f"where({cond(where)}, {index}, {expr})"
    return f"({expr}) + 1", letters


def run_gdal_calc(directory: Path, out: Path) -> dict:
    expr, letters = gdal_calc_expression(find_method(None))
    args = ["gdal_calc.py", "--quiet", "--overwrite", "--type=Byte", "--NoDataValue=0", "--co=TILED=YES",
            "--co=COMPRESS=DEFLATE", f"--outfile={out / 'gdal_calc.tif'}", f"--calc={expr}"]
    args += [f"-{letter}={directory / f'{name}.tif'}" for name, letter in letters.items()]
    subprocess.run(args, check=True)
    return {}


CONTENDERS = {"dask": run_dask, "numpy": run_numpy, "gdal_calc": run_gdal_calc}


def child(name: str, directory: str, out: str) -> None:
    started = time.perf_counter()
    extra = CONTENDERS[name](Path(directory), Path(out))
    seconds = time.perf_counter() - started
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, **extra}))


def measure(name: str, directory: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", name, str(directory), str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    resolution = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    contenders = sys.argv[2:] or list(CONTENDERS)
    if not set(contenders) <= set(CONTENDERS):
        sys.exit(f"contenders: {', '.join(CONTENDERS)}")
    method = find_method(None)
    source = Settings.from_env().evaluation_dir / "factors"
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp:
        work = Path(tmp)
        width, height = virtual_factors(method, source, resolution, work)
        cells = width * height
        print(f"suitability at {resolution:g} m: {width} × {height} = {cells / 1e6:.0f} M cells, "
              f"{len(method.factors)} factors, method {method.version}, {psutil.cpu_count()} cores")
        results = {}
        for name in contenders:
            need = cells * 4 * (len(method.factors) + 4)
            if name == "numpy" and need > psutil.virtual_memory().available / 2:
                results[name] = {"error": f"skipped: whole arrays need ≈ {need / 2**30:.1f} GiB"}
            else:
                results[name] = measure(name, work, work)
            r = results[name]
            line = (f"{r['seconds']:8.1f} s  peak {r['peak_mb']:8.0f} MB" if "seconds" in r else r["error"])
            area = f"  (city {r['city_km2']} km²)" if "city_km2" in r else ""
            print(f"  {name:<10} {line}{area}")
        base = results.get("dask", {})
        for name in ("numpy", "gdal_calc"):
            r = results.get(name, {})
            if "seconds" in r and "seconds" in base:
                factor = 3 if name == "gdal_calc" else 1     # gdal_calc computed one output of three
                print(f"  {name} / dask: time × {factor * r['seconds'] / base['seconds']:.2f}, "
                      f"peak memory × {r['peak_mb'] / base['peak_mb']:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main()
