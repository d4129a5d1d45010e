"""A map sheet (A4 / A3, landscape / portrait) as PDF through the one PDF
engine (processes.base.pdf_from_html): the map image the browser drew, its
title, legend, scale bar and north arrow, in Chinese."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from html import escape

from onemap.core.errors import invalid
from processes.base import pdf_from_html

PAPERS = ("A4", "A3")
ORIENTATIONS = ("landscape", "portrait")
PNG_PREFIX = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Sheet:
    title: str
    paper: str
    orientation: str
    image_png: bytes
    legend: tuple[tuple[str, str], ...]  # (colour, label)
    scale: str


def sheet_from_request(data: object) -> Sheet:
    """The sheet of a JSON body {title, paper, orientation, image (a PNG data
    URL), legend [{colour, label}], scale}; bad fields are named."""
    if not isinstance(data, dict):
        raise invalid(None, "请求体应为 JSON 对象", "The body must be a JSON object")
    paper, orientation = data.get("paper", "A4"), data.get("orientation", "landscape")
    if paper not in PAPERS:
        raise invalid("paper", "纸张应为 A4 或 A3", "paper must be A4 or A3")
    if orientation not in ORIENTATIONS:
        raise invalid("orientation", "方向应为 landscape（横向）或 portrait（纵向）",
                      "orientation must be landscape or portrait")
    image = data.get("image")
    try:
        png = base64.b64decode(image[len(PNG_PREFIX):], validate=True) \
            if isinstance(image, str) and image.startswith(PNG_PREFIX) else b""
    except binascii.Error:
        png = b""
    if not png.startswith(PNG_SIGNATURE):
        raise invalid("image", "地图图像应为 PNG 的 data URL", "image must be a PNG data URL")
    legend = data.get("legend") or []
    if not isinstance(legend, list) or not all(isinstance(i, dict) for i in legend):
        raise invalid("legend", "图例应为 {colour, label} 的列表", "legend must be a list of {colour, label}")
    return Sheet(title=str(data.get("title") or "国土空间规划“一张图”"), paper=paper, orientation=orientation,
                 image_png=png, legend=tuple((str(i.get("colour", "")), str(i.get("label", ""))) for i in legend),
                 scale=str(data.get("scale") or ""))


def sheet_html(sheet: Sheet) -> str:
    legend = "".join(f'<li><i style="background:{escape(colour)}"></i>{escape(label)}</li>'
                     for colour, label in sheet.legend)
    image = base64.b64encode(sheet.image_png).decode("ascii")
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
@page {{ size: {sheet.paper} {sheet.orientation}; margin: 12mm; }}
body {{ margin: 0; }}
h1 {{ font-size: 18pt; text-align: center; margin: 0 0 4mm; }}
.frame {{ position: relative; border: 1px solid #333; }}
.frame img {{ width: 100%; display: block; }}
.north {{ position: absolute; top: 4mm; right: 4mm; text-align: center; font-weight: bold; background: #fff; padding: 1mm; }}
.legend {{ position: absolute; bottom: 4mm; right: 4mm; background: #fff; padding: 2mm; font-size: 9pt; }}
.legend ul {{ list-style: none; margin: 0; padding: 0; }}
.legend i {{ display: inline-block; width: 4mm; height: 3mm; margin-right: 1mm; border: 1px solid #999; }}
.scale {{ position: absolute; bottom: 4mm; left: 4mm; background: #fff; padding: 1mm 2mm; font-size: 9pt;
          border: 1px solid #333; border-top: none; }}
footer {{ font-size: 8pt; color: #555; margin-top: 2mm; }}
</style></head><body>
<h1>{escape(sheet.title)}</h1>
<div class="frame"><img src="data:image/png;base64,{image}" alt="地图">
<div class="north">▲<br>北</div>
<div class="scale">比例尺 {escape(sheet.scale)}</div>
{f'<div class="legend"><b>图例</b><ul>{legend}</ul></div>' if legend else ''}
</div>
<footer>益阳市国土空间规划“一张图”实施监督信息系统 · 坐标系 CGCS2000</footer>
</body></html>"""


def map_pdf(sheet: Sheet) -> bytes:
    return pdf_from_html(sheet_html(sheet))
