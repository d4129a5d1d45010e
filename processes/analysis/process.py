"""pygeoapi plugins: area-statistics (查询统计) and layer-compare (对比分析)."""

from __future__ import annotations

from onemap.core.errors import invalid
from onemap.core.landuse import DIGITS
from processes.analysis.areas import Region
from processes.analysis.compare import layer_compare
from processes.analysis.statistics import area_statistics
from processes.base import OneMapProcessor, Output, datetime_input, describe, metadata, text_input

_STRING = {"type": "string"}
_REGION_INPUTS = {
    "xzqdm": describe(("行政区代码", "Admin unit"), ("只统计该行政区内", "Only inside this admin unit"), _STRING, 0),
    "boundary": describe(("绘制范围", "Drawn boundary"), ("GeoJSON 面几何，CRS84", "A GeoJSON polygon, CRS84"),
                   {"type": "object"}, 0),
    "level": describe(("行政区级别", "Unit level"), ("按 市 / 县 / 乡 分组，默认 乡", "Group by 市/县/乡 (default 乡)"),
                {"type": "string", "enum": ["市", "县", "乡"]}, 0),
    "class_level": describe(("分类级别", "Class level"), ("1：一级类（两位），2：二级类（四位，默认），3：三级类（六位）",
                                                  "1: first-level (2-digit) classes, 2: second-level (default), "
                                                  "3: third-level (6-digit)"),
                      {"type": "integer", "enum": [1, 2, 3]}, 0),
}


def _region(data: dict) -> tuple[Region, str, int]:
    boundary = data.get("boundary")
    if boundary is not None and not isinstance(boundary, dict):
        raise invalid("boundary", "boundary 应为 GeoJSON 几何对象", "boundary must be a GeoJSON geometry object")
    if isinstance(boundary, dict) and boundary.get("type") == "Feature":
        boundary = boundary.get("geometry")
    level = text_input(data, "level", default="乡")
    try:
        digits = DIGITS[int(text_input(data, "class_level", default="2"))]
    except (KeyError, ValueError):
        raise invalid("class_level", "class_level 应为 1、2 或 3", "class_level must be 1, 2 or 3") from None
    return Region(xzqdm=text_input(data, "xzqdm"), boundary=boundary), level, digits


STATISTICS_METADATA = metadata(
    "area-statistics", ("查询统计", "Area statistics"),
    ("按用地分类和行政区统计图层面积（椭球面积）：某版本、某时刻、某行政区或绘制范围",
     "Ellipsoidal areas of a layer by land-use class and admin unit: for a version, a time, an admin unit "
     "or a drawn boundary"),
    {"layer": describe(("图层", "Layer"), ("默认 GHYDYH", "Default GHYDYH"), _STRING, 0),
     "version": describe(("规划版本", "Plan version"), ("默认现行版本", "Default: in force"), _STRING, 0),
     "datetime": describe(("时刻", "Time"), ("该时刻有效的规划", "The plan valid then"), _STRING, 0),
     **_REGION_INPUTS},
    {"statistics": describe(("统计结果", "Statistics"), ("按分类、行政区及合计，平方米/公顷/亩",
                                                 "By class, unit and in total; m², ha, mu"), {"type": "object"})},
    ["查询统计", "statistics"], {"inputs": {"layer": "GHYDYH", "xzqdm": "430902"}})


class AreaStatisticsProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, STATISTICS_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        region, level, digits = _region(data)
        result = area_statistics(self.database_url, layer=text_input(data, "layer", default="GHYDYH"),
                                 version=text_input(data, "version"),
                                 at=datetime_input(data, "datetime", required=False),
                                 region=region, level=level, digits=digits)
        return {"statistics": Output(lambda: result)}


COMPARE_METADATA = metadata(
    "layer-compare", ("对比分析", "Layer comparison"),
    ("两个规划版本（按标识码匹配：新增、删除、变化）或两个图层（分类不同的叠加部分）之间的差异，及按用地分类和行政区的面积变化",
     "Differences between two plan versions (features matched by key: added, removed, changed) or two "
     "layers (where their classes differ), with the area change by land-use class and admin unit"),
    {"layer": describe(("图层", "Layer"), ("版本对比的图层，默认 GHYDYH", "Layer of a version comparison"), _STRING, 0),
     "from_version": describe(("原版本", "From version"), ("", ""), _STRING, 0),
     "to_version": describe(("新版本", "To version"), ("", ""), _STRING, 0),
     "from_layer": describe(("原图层", "From layer"), ("如 DLTB（现状）", "e.g. DLTB (current)"), _STRING, 0),
     "to_layer": describe(("新图层", "To layer"), ("如 GHYDYH（规划）", "e.g. GHYDYH (planned)"), _STRING, 0),
     **_REGION_INPUTS},
    {"comparison": describe(("对比结果", "Comparison"), ("变化要素及面积变化", "Changed features and area change"),
                      {"type": "object"})},
    ["对比分析", "comparison"], {"inputs": {"from_version": "2021-2035-v1", "to_version": "2021-2035-v2"}})


class LayerCompareProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, COMPARE_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        region, level, digits = _region(data)
        result = layer_compare(self.database_url, layer=text_input(data, "layer", default="GHYDYH"),
                               from_version=text_input(data, "from_version"),
                               to_version=text_input(data, "to_version"),
                               from_layer=text_input(data, "from_layer"), to_layer=text_input(data, "to_layer"),
                               region=region, level=level, digits=digits)
        return {"comparison": Output(lambda: result)}
