"""Evaluation results as standard services (评价结果服务).

Each successful double evaluation replaces, atomically, the class rasters at
one stable path per output (var/evaluation/latest/<output>.tif), so that the
services configured at start keep their source while runs come and go:

- an OGC API Coverages collection per output (pygeoapi's rasterio provider);
  before the first run the collection answers a bilingual 404, never a 500;
- a WMS/WMTS layer per output in the class colours of styles/evaluation.yaml
  (a MapServer RASTER layer with a CLASS per class code, cached by MapProxy
  and drawn again when a run replaces the rasters);
- a catalogue record per output under 规划监督数据 / 评估评价.

All three come from config/evaluation/layers.yaml and are for staff only
(the internal configurations)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pygeoapi.provider.base import ProviderItemNotFoundError
from pygeoapi.provider.rasterio_ import RasterioProvider

from onemap.core.registry import Text, load_layers
from onemap.core.settings import Settings, config_dir, load_yaml
from processes.evaluation.compute import STYLE_FILE, class_colours
from processes.evaluation.method import find_method
from processes.evaluation.model import NODATA, OUTPUTS

MAPFILE_NAME = "evaluation.map"
GRIDS = ["WebMercatorQuad", "CGCS2000"]  # the grids of mapproxy/mapproxy.yaml
# EPSG:4546 without a datum, as onemap/maps/mapfile.py does for EPSG:4490:
# PROJ then converts to Web Mercator without a datum search at every start
GRID_PROJECTION = "+proj=tmerc +lat_0=0 +lon_0=111 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass(frozen=True)
class ResultClass:
    code: int        # the value in the raster (index in the scale + 1)
    name: str        # the class of the method's scale, e.g. 适宜
    color: str       # "#RRGGBB"

    @property
    def rgb(self) -> tuple[int, int, int]:
        return tuple(int(self.color[i:i + 2], 16) for i in (1, 3, 5))


@dataclass(frozen=True)
class ResultLayer:
    """An evaluation output served as a coverage, a map layer and a record."""

    id: str
    output: str
    title: Text
    description: Text
    keywords_zh: tuple[str, ...]
    keywords_en: tuple[str, ...]
    directory: tuple[str, ...]
    classes: tuple[ResultClass, ...]
    polygons: tuple[str, ResultClass] | None = None   # (registry layer, class) kept as polygons


def _classes(output: str) -> tuple[ResultClass, ...]:
    """The classes of an output by the default method's scale, in the colours
    of the class rasters (styles/evaluation.yaml)."""
    method = find_method(None)
    scale = method.ecology_scale if output == "ecology" else method.suitability[output].scale
    colours = class_colours()[output]
    if len(colours) < len(scale):
        raise ValueError(f"{STYLE_FILE.name}: {output}: {len(colours)} colours for {len(scale)} classes")
    return tuple(ResultClass(i + 1, name, colours[i]) for i, name in enumerate(scale))


@cache
def load_result_layers(directory: Path | None = None) -> tuple[ResultLayer, ...]:
    entries = load_yaml((directory or config_dir() / "evaluation") / "layers.yaml")["layers"]
    layers = []
    for e in entries:
        if e["output"] not in OUTPUTS:
            raise ValueError(f"evaluation layer {e['id']}: output must be one of {OUTPUTS}")
        classes = _classes(e["output"])
        polygons = None
        if "polygons" in e:
            wanted = e["polygons"]["class"]
            found = [c for c in classes if c.name == wanted]
            if not found:
                raise ValueError(f"evaluation layer {e['id']}: polygons.class {wanted} is not a class of "
                                 f"{e['output']} ({', '.join(c.name for c in classes)})")
            polygons = (str(e["polygons"]["layer"]), found[0])
            if polygons[0] not in {layer.id for layer in load_layers()}:
                raise ValueError(f"evaluation layer {e['id']}: polygons.layer {polygons[0]} is not in config/layers.yaml")
        layers.append(ResultLayer(e["id"], e["output"], Text(**e["title"]), Text(**e["description"]),
                                  tuple(e["keywords"]["zh"]), tuple(e["keywords"]["en"]), tuple(e["directory"]),
                                  classes, polygons))
    return tuple(layers)


def latest_dir(settings: Settings) -> Path:
    return settings.evaluation_dir / "latest"


def latest_path(settings: Settings, output: str) -> Path:
    return latest_dir(settings) / f"{output}.tif"


def state_file(settings: Settings) -> Path:
    """Rewritten by every publication: MapProxy draws tiles older than it again."""
    return latest_dir(settings) / "published.state"


def publish_latest(settings: Settings, run_dir: Path) -> None:
    """Make a finished run's class rasters the served ones: each is copied
    beside its stable path and renamed over it, so a reader (pygeoapi,
    mapserv) opens the old file or the new one, never half of one."""
    target = latest_dir(settings)
    target.mkdir(parents=True, exist_ok=True)
    for output in OUTPUTS:
        partial = target / f".{output}.tif.partial"
        shutil.copyfile(run_dir / f"{output}.tif", partial)
        os.replace(partial, latest_path(settings, output))
    state_file(settings).write_text(run_dir.name, encoding="utf-8")


class LatestCoverageProvider(RasterioProvider):
    """pygeoapi's rasterio provider on the latest class raster; before the
    first run it describes an empty grid and answers the coverage with a 404."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        if Path(provider_def["data"]).exists():
            super().__init__(provider_def)
            return
        super(RasterioProvider, self).__init__(provider_def)  # BaseProvider: no file to open
        self._fields = {"1": {"title": "class", "type": "integer"}}
        self.axes = ["x", "y"]
        self._coverage_properties = {"width": 0, "height": 0, "resx": 0, "resy": 0}

    def query(self, **kwargs: Any) -> Any:
        if not Path(self.data).exists():
            raise ProviderItemNotFoundError(user_msg=(
                "尚无评价结果：运行一次双评价（suitability-evaluation）后提供 / "
                "No evaluation result yet: it is served after a run of suitability-evaluation"))
        return super().query(**kwargs)


def collections(settings: Settings, extents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pygeoapi coverage collections (config/components.yaml `collections`),
    over the city's extent (the XZQ layer's)."""
    city = extents["XZQ"]
    return {layer.id: {
        "type": "collection",
        "title": layer.title.as_dict(),
        "description": layer.description.as_dict(),
        "keywords": {"zh": list(layer.keywords_zh), "en": list(layer.keywords_en)},
        "links": [{"type": "image/png", "rel": "alternate", "title": "WMS 1.3 图层 / WMS layer",
                   "href": f"{settings.base_url}/mapproxy/service?SERVICE=WMS&REQUEST=GetCapabilities"}],
        "extents": {"spatial": city["spatial"]},
        "providers": [{"type": "coverage", "name": f"{__name__}.LatestCoverageProvider",
                       "data": str(latest_path(settings, layer.output)),
                       "format": {"name": "GTiff", "mimetype": COG_MEDIA_TYPE}}],
    } for layer in load_result_layers()}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mapfile_text(settings: Settings, bbox: list[float]) -> str:
    """A MapServer mapfile of the class rasters: a CLASS per class code in
    its colour; nodata matches no class and stays transparent."""
    lines = [
        "# Generated by processes/evaluation/layers.py from config/evaluation/layers.yaml: do not edit.",
        "MAP", '  NAME "evaluation"', "  EXTENT " + " ".join(f"{v:g}" for v in bbox), "  SIZE 256 256",
        "  MAXSIZE 4096", "  UNITS DD", '  PROJECTION "init=epsg:4490" END', '  IMAGETYPE "png"',
        "  OUTPUTFORMAT", '    NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" EXTENSION "png"',
        "    IMAGEMODE RGBA TRANSPARENT ON", "  END",
        "  WEB", "    METADATA", '      "wms_title" "评价结果 Evaluation results"',
        '      "wms_srs" "EPSG:4490 EPSG:3857 EPSG:4326"', '      "wms_enable_request" "*"', "    END", "  END",
    ]
    for layer in load_result_layers():
        lines += ["  LAYER", f"    NAME {_quote(layer.id)}", "    TYPE RASTER", "    STATUS ON",
                  f"    DATA {_quote(str(latest_path(settings, layer.output)))}",
                  f"    PROJECTION {_quote(GRID_PROJECTION)} END",
                  '    PROCESSING "RESAMPLE=NEAREST"',  # class codes: never averaged
                  f'    PROCESSING "NODATA={NODATA}"',
                  "    METADATA", f"      \"wms_title\" {_quote(f'{layer.title.zh} {layer.title.en}')}", "    END"]
        for cls in layer.classes:
            lines += [f"    CLASS NAME {_quote(cls.name)} EXPRESSION ([pixel] = {cls.code})",
                      "      STYLE COLOR {} {} {} END".format(*cls.rgb), "    END"]
        lines.append("  END")
    return "\n".join([*lines, "END"]) + "\n"


def mapproxy_part(settings: Settings) -> dict[str, Any]:
    """Sources, caches and layers of the class rasters for MapProxy
    (config/components.yaml `map_sources`), for the internal configuration:
    writes the mapfile beside the main one (mapserv opens that folder only)."""
    files = settings.mapserver_files
    files.directory.mkdir(parents=True, exist_ok=True)
    mapfile = files.directory / MAPFILE_NAME
    bbox = [108.0, 27.0, 114.0, 30.0]  # drawing limits only: wider than the city, inside zone 37
    mapfile.write_text(mapfile_text(settings, bbox), encoding="utf-8")
    state = state_file(settings)
    if not state.exists():  # MapProxy fails a request whose refresh file is missing
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text("", encoding="utf-8")
    sources, caches, layers = {}, {}, []
    for layer in load_result_layers():
        sources[f"{layer.id}_mapserver"] = {
            "type": "mapserver", "req": {"layers": layer.id, "map": str(mapfile), "transparent": True},
            "supported_srs": ["EPSG:4490", "EPSG:3857"], "coverage": {"bbox": bbox, "srs": "EPSG:4490"}}
        caches[f"{layer.id}_cache"] = {"grids": GRIDS, "sources": [f"{layer.id}_mapserver"], "format": "image/png",
                                       "refresh_before": {"mtime": str(state)}}
        layers.append({"name": layer.id, "title": f"{layer.title.zh} {layer.title.en}",
                       "sources": [f"{layer.id}_cache"]})
    return {"sources": sources, "caches": caches, "layers": layers, "audiences": ["internal"]}
