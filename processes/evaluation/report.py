"""The evaluation reports, PDF by the one PDF engine: the double evaluation's
(评价报告: a map per class raster in the conventional colours — the raster's
own colour table, read at a reduced size — the class areas in total and per
county and township, the carrying capacity) and the risk evaluation's
(风险评估报告: level, reasons, exposed areas and cropland loss per township)."""

from __future__ import annotations

import base64
import io
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import rasterio
from PIL import Image

from processes.base import pdf_from_html
from processes.evaluation.compute import class_colours
from processes.evaluation.model import OUTPUTS

TEMPLATES = Path(__file__).parent / "templates"
MAP_PIXELS = 900


@cache
def _template(name: str = "report.html.j2") -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template(name)


def map_png(path: Path) -> str:
    """The class raster as a PNG data URI, at most MAP_PIXELS wide (an
    overview of the COG when it has one)."""
    with rasterio.open(path) as src:
        factor = max(1, int(np.ceil(max(src.width, src.height) / MAP_PIXELS)))
        codes = src.read(1, out_shape=(max(1, src.height // factor), max(1, src.width // factor)),
                         resampling=rasterio.enums.Resampling.nearest)
        table = src.colormap(1)
    lut = np.zeros((256, 4), np.uint8)
    for code, rgba in table.items():
        lut[code] = rgba
    lut[0] = (255, 255, 255, 0)
    buffer = io.BytesIO()
    Image.fromarray(lut[codes], "RGBA").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def report_pdf(summary: dict[str, Any], directory: Path) -> bytes:
    maps = {name: map_png(directory / f"{name}.tif") for name in OUTPUTS}
    return pdf_from_html(_template().render(s=summary, maps=maps, colours=class_colours()))


def risk_report_pdf(result: dict[str, Any]) -> bytes:
    return pdf_from_html(_template("risk.html.j2").render(r=result))
