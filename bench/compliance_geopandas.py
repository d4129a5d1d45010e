"""The peer of bench/compliance.py: the overlays of the 用地预审 check as an
analyst would script them with geopandas, on the layers of a GeoPackage.
Runs in the bench-only virtualenv (var/bench/geopandas-venv), not in .venv.

    python compliance_geopandas.py LAYERS.gpkg BOUNDARIES.json

Prints JSON: the time to read the layers, the seconds per boundary, and the
summed planned-land overlap (for a sanity check of the areas).
"""

import json
import sys
import time

import geopandas as gpd

GK = 4546  # CGCS2000 3-degree Gauss-Kruger CM 111E: metres for areas and buffers


def main() -> None:
    gpkg, boundaries_path = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    layers = {name: gpd.read_file(gpkg, layer=name, engine="pyogrio").to_crs(GK)
              for name in ("XZQ", "STBHHX", "YJJBNT", "CZKFBJ", "GHYDYH", "LSWHBHX", "DZZHD", "DLTB")}
    for layer in layers.values():
        _ = layer.sindex  # built once, as an analyst's session would
    load_s = time.perf_counter() - started
    cropland = layers["DLTB"][layers["DLTB"]["dlbm"].str.startswith("01")]
    _ = cropland.sindex
    city = layers["XZQ"][layers["XZQ"]["xzqjb"] == "市"].geometry.iloc[0]
    urban = layers["CZKFBJ"].geometry.union_all()
    latencies, ghydyh_m2 = [], 0.0
    for geometry in json.load(open(boundaries_path)):
        t = time.perf_counter()
        project = gpd.GeoDataFrame.from_features([{"type": "Feature", "geometry": geometry, "properties": {}}],
                                                 crs=4490).to_crs(GK)
        outline = project.geometry.iloc[0]
        _ = outline.difference(city).area
        found = {}
        for name, layer in [*((n, layers[n]) for n in ("XZQ", "STBHHX", "YJJBNT", "CZKFBJ", "GHYDYH", "LSWHBHX")),
                            ("DLTB-01", cropland)]:
            candidates = layer.iloc[layer.sindex.query(outline, predicate="intersects")]  # the index first
            found[name] = gpd.overlay(candidates, project, how="intersection", keep_geom_type=True)
            found[name]["overlap_m2"] = found[name].area
        _ = outline.difference(urban).area
        near = layers["DZZHD"][layers["DZZHD"].distance(outline) <= 200]
        _ = len(near)
        ghydyh_m2 += float(found["GHYDYH"]["overlap_m2"].sum())
        latencies.append(time.perf_counter() - t)
    print(json.dumps({"load_s": load_s, "latencies": latencies, "ghydyh_m2": ghydyh_m2}))


if __name__ == "__main__":
    main()
