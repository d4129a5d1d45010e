"""The latest double evaluation served as standards through the running
gateway, on one township's run: GDAL (rasterio) reads the OGC API Coverages
collection and its cells equal the run's COG; a WMS GetMap pixel has the
class colour of the raster at that point; each result has a catalogue
record; staff see the services and records, the public does not."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rasterio
import requests
from PIL import Image
from pyproj import Transformer
from rasterio.io import MemoryFile

from catalogue.records import CatalogueConfig
from onemap.core.settings import Settings
from processes.evaluation.layers import load_result_layers
from tests.conftest import auth

COUNTY = "430902"      # 资阳区: its smallest township keeps the run cheap


@pytest.fixture(scope="module")
def township_run(ogc_url, tokens, db):
    code = db.execute("SELECT xzqdm FROM base.xzq WHERE xzqjb = '乡' AND sjxzqdm = %s "
                      "ORDER BY ST_Area(geom) LIMIT 1", (COUNTY,)).fetchone()[0]
    r = requests.post(f"{ogc_url}/processes/suitability-evaluation/execution", json={"inputs": {"xzqdm": code}},
                      headers=auth(tokens["staff"]), timeout=600)
    assert r.status_code == 200, r.text
    return r.json()


def read_raster(content: bytes) -> tuple[np.ndarray, rasterio.Affine, int]:
    with MemoryFile(content) as memory, memory.open() as src:
        return src.read(1), src.transform, src.crs.to_epsg()


def run_raster(body, output, token):
    r = requests.get(body[output]["href"], headers=auth(token), timeout=120)
    assert r.status_code == 200, r.text[:300]
    return read_raster(r.content)


@pytest.mark.parametrize("layer", load_result_layers(), ids=lambda layer: layer.id)
def test_gdal_reads_the_coverage_and_its_cells_are_the_runs(township_run, ogc_url, tokens, layer):
    staff = auth(tokens["staff"])
    r = requests.get(f"{ogc_url}/collections/{layer.id}/coverage", params={"f": "GTiff"}, headers=staff, timeout=120)
    assert r.status_code == 200, r.text[:300]
    served, transform, epsg = read_raster(r.content)
    expected, run_transform, _ = run_raster(township_run, layer.output, tokens["staff"])
    assert epsg == 4546 and transform == run_transform
    assert served.shape == expected.shape and np.array_equal(served, expected)
    assert {cls.code for cls in layer.classes} & set(np.unique(served).tolist())
    described = requests.get(f"{ogc_url}/collections/{layer.id}", headers=staff, params={"f": "json"}, timeout=60)
    assert described.status_code == 200 and described.json()["title"] == layer.title.zh


def test_the_public_neither_lists_nor_reads_the_coverages(township_run, ogc_url):
    listed = requests.get(f"{ogc_url}/collections", params={"f": "json"}, timeout=60).json()["collections"]
    ids = {layer.id for layer in load_result_layers()}
    assert not ids & {c["id"] for c in listed}
    for layer_id in ids:
        assert requests.get(f"{ogc_url}/collections/{layer_id}/coverage", params={"f": "GTiff"},
                            timeout=60).status_code == 404


def homogeneous_cell(codes: np.ndarray) -> tuple[int, int]:
    """A cell whose 5 × 5 neighbourhood is one class: resampling to the map's
    pixels cannot mix in a neighbour there."""
    rows, cols = codes.shape
    for row in range(2, rows - 2):
        for col in range(2, cols - 2):
            block = codes[row - 2:row + 3, col - 2:col + 3]
            if codes[row, col] and (block == codes[row, col]).all():
                return row, col
    raise AssertionError("no homogeneous 5 × 5 block in the run's raster")


def test_a_wms_pixel_has_the_class_colour_and_wmts_lists_the_layer_for_staff(township_run, base_url, tokens):
    layer = next(layer for layer in load_result_layers() if layer.output == "construction")
    codes, transform, _ = run_raster(township_run, layer.output, tokens["staff"])
    row, col = homogeneous_cell(codes)
    x, y = transform @ (col + 0.5, row + 0.5)
    lon, lat = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True).transform(x, y)
    half = 0.0001  # about a third of a 30 m cell
    r = requests.get(f"{base_url}/mapproxy/service", headers=auth(tokens["staff"]), timeout=120, params={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": layer.id, "STYLES": "",
        "CRS": "EPSG:4490", "BBOX": f"{lat - half},{lon - half},{lat + half},{lon + half}",
        "WIDTH": 3, "HEIGHT": 3, "FORMAT": "image/png", "TRANSPARENT": "TRUE"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png", r.text[:300]
    pixel = Image.open(io.BytesIO(r.content)).convert("RGBA").getpixel((1, 1))
    colour = next(cls for cls in layer.classes if cls.code == codes[row, col])
    assert pixel == (*colour.rgb, 255)
    anonymous = requests.get(r.url, timeout=60)
    assert anonymous.status_code != 200 or not anonymous.headers["Content-Type"].startswith("image/")
    capabilities = f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml"
    identifier = f"<ows:Identifier>{layer.id}</ows:Identifier>"
    assert identifier in requests.get(capabilities, headers=auth(tokens["staff"]), timeout=60).text
    assert identifier not in requests.get(capabilities, timeout=60).text


def test_each_result_has_a_catalogue_record_for_staff(ogc_url, tokens):
    prefix = CatalogueConfig.load(Settings.from_env().gateway).identifier_prefix
    for layer in load_result_layers():
        url = f"{ogc_url}/collections/catalogue/items/{prefix}.evaluation.{layer.id}"
        assert requests.get(url, params={"f": "json"}, timeout=30).status_code == 404
        item = requests.get(url, params={"f": "json"}, headers=auth(tokens["staff"]), timeout=30).json()
        assert item["properties"]["title"] == layer.title.zh
        assert {link.get("title") for link in item["links"]} >= {f"OGC:API-Coverages {layer.id}",
                                                                 f"OGC:WMS {layer.id}"}
