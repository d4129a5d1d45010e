"""pygeoapi plugins: suitability-evaluation (国土空间开发适宜性评价) and
carrying-capacity-evaluation (资源环境承载能力评价) — thin shells over
processes.evaluation.service."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from onemap.core.errors import invalid
from onemap.core.settings import Settings
from processes.base import OneMapProcessor, Output, describe, integer_input, metadata, text_input
from processes.evaluation import service
from processes.evaluation.model import OUTPUTS

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
_INPUTS = {
    "xzqdm": describe(("行政区代码", "Admin unit"), ("评价该县或乡镇；缺省为全市", "Evaluate this county or township; "
                                                                   "default: the whole city"), {"type": "string"}, 0),
    "boundary": describe(("绘制范围", "Drawn boundary"), ("GeoJSON 面几何，CRS84", "A GeoJSON polygon, CRS84"),
                         {"type": "object"}, 0),
    "method": describe(("评价方法版本", "Method version"), ("config/evaluation/ 中的版本，缺省为第一个",
                                                        "A version from config/evaluation/; default: the first"),
                       {"type": "string"}, 0),
    "resolution": describe(("分辨率（米）", "Resolution (m)"), ("评价因子分辨率的整数倍，缺省同评价因子",
                                                          "A whole multiple of the factor rasters' cell size"),
                           {"type": "number"}, 0),
}
_RASTERS = {name: describe((service.TITLES[name][0] + "栅格", service.TITLES[name][1] + " raster"),
                           ("类别代码：1 起依次为各类别，0 为无数据（COG）", "Class codes from 1 in the scale's order, "
                                                               "0 nodata (Cloud-Optimised GeoTIFF)"),
                           {"type": "string", "contentEncoding": "binary", "contentMediaType": COG})
            for name in OUTPUTS}
_REPORT = describe(("评价报告", "Report"), ("中文 PDF：图件与统计表", "Chinese PDF: maps and tables"),
                   {"type": "string", "contentEncoding": "binary", "contentMediaType": "application/pdf"})
_SUMMARY = describe(("评价摘要", "Summary"), ("方法版本、各类面积（乡镇、县、合计；平方米/公顷/亩）、承载规模",
                                          "Method version, class areas per township, county and in total "
                                          "(m², ha, mu), carrying capacity"), {"type": "object"})


def _request(data: dict) -> service.Request:
    boundary = data.get("boundary")
    if isinstance(boundary, dict) and boundary.get("type") == "Feature":
        boundary = boundary.get("geometry")
    if boundary is not None and not isinstance(boundary, dict):
        raise invalid("boundary", "boundary 应为 GeoJSON 几何对象", "boundary must be a GeoJSON geometry object")
    resolution = text_input(data, "resolution")
    try:
        value = float(resolution) if resolution is not None else None
    except ValueError:
        raise invalid("resolution", "分辨率应为数值（米）", "The resolution must be a number of metres") from None
    if value is not None and value <= 0:
        raise invalid("resolution", "分辨率应为正数", "The resolution must be positive")
    return service.Request(xzqdm=text_input(data, "xzqdm"), boundary=boundary, method=text_input(data, "method"),
                           resolution=value, base_year=integer_input(data, "base_year"))


class _EvaluationProcessor(OneMapProcessor):
    """Runs the double evaluation; the outputs point into the run's files."""

    process_id: ClassVar[str]
    references = frozenset({*OUTPUTS, "report"})
    files: ClassVar[dict[str, str]] = {**{n: f"{n}.tif" for n in OUTPUTS}, "report": "report.pdf"}

    def run(self, data: dict) -> dict[str, Output]:
        settings = Settings.from_env()
        summary = service.evaluate(settings, _request(data), self.principal, self.job_id, self.progress,
                                   self.process_id)
        run_id = summary["run_id"]
        outputs = {name: self._file(settings, run_id, file) for name, file in self.files.items()}
        outputs["summary"] = Output(lambda: summary)
        outputs["carrying_capacity"] = Output(lambda: summary["carrying_capacity"])
        return {name: outputs[name] for name in self.metadata["outputs"]}

    @staticmethod
    def _file(settings: Settings, run_id: str, file: str) -> Output:
        path: Path = service.run_path(settings, run_id, file)
        return Output(path.read_bytes, href=f"{settings.base_url}/evaluation/runs/{run_id}/{file}")


class SuitabilityEvaluationProcessor(_EvaluationProcessor):
    process_id = "suitability-evaluation"
    default_outputs = {"summary": "value", **dict.fromkeys((*OUTPUTS, "report"), "reference")}

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, metadata(
            self.process_id, ("国土空间开发适宜性评价", "Territorial development suitability evaluation"),
            ("双评价：生态保护重要性、农业生产适宜性与城镇建设适宜性，按 config/evaluation/ 的方法分块计算（Dask）",
             "Double evaluation: ecological protection importance, agricultural production and urban "
             "construction suitability, by the method of config/evaluation/, computed in chunks (Dask)"),
            _INPUTS, {**_RASTERS, "report": _REPORT, "summary": _SUMMARY},
            ["双评价", "适宜性评价", "evaluation"], {"inputs": {"xzqdm": "430902"}}))


class CarryingCapacityEvaluationProcessor(_EvaluationProcessor):
    process_id = "carrying-capacity-evaluation"
    default_outputs = {"carrying_capacity": "value", "summary": "value", "report": "reference"}

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, metadata(
            self.process_id, ("资源环境承载能力评价", "Resource and environment carrying capacity evaluation"),
            ("由适宜性评价的适宜区与水资源约束，得出可承载的农业生产、城镇建设最大规模",
             "The largest farmland and urban construction scales the land and water carry, from the "
             "suitability evaluation's suitable areas and the water limit"),
            _INPUTS, {"carrying_capacity": describe(("承载规模", "Carrying capacity"),
                                                    ("公顷/亩，及约束因素", "ha, mu and the limiting resource"),
                                                    {"type": "object"}),
                      "report": _REPORT, "summary": _SUMMARY, **_RASTERS},
            ["双评价", "承载能力评价", "evaluation"], {"inputs": {}}))


class RiskEvaluationProcessor(OneMapProcessor):
    """开发保护风险评估: a risk level per township, with its reasons."""

    process_id = "risk-evaluation"

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, metadata(
            self.process_id, ("开发保护风险评估", "Development and protection risk evaluation"),
            ("规划建设用地（GHYDYH 建设类）与建设项目（JSXM）落在地质灾害暴露区、生态源地、现状耕地上的面积与占比，"
             "基期年度以来耕地转为建设用地的面积，按 config/evaluation/risk.yaml 给出各乡镇风险等级及原因",
             "Planned construction (GHYDYH construction classes) and projects (JSXM) on hazard-exposed cells, "
             "ecological sources and current cropland: areas, shares; cropland turned into construction since a "
             "base land-use year; a risk level per township with the reasons, by config/evaluation/risk.yaml"),
            {**{k: _INPUTS[k] for k in ("xzqdm", "boundary", "method")},
             "base_year": describe(("基期年度", "Base year"), (
                 "耕地流失自该年度的土地利用现状起算（其后的年度变更）；缺省为年度变更的最早年度",
                 "Cropland loss counts from this year's land use (the annual changes after it); default: "
                 "the earliest year of the annual changes"), {"type": "integer"}, 0)},
            {"risk": describe(("风险评估结果", "Risk evaluation"), (
                "各乡镇风险等级、原因、暴露面积（公顷）与耕地流失（平方米/公顷/亩）",
                "Level, reasons, exposed areas (ha) and cropland loss (m², ha, mu) per township"),
                {"type": "object"}),
             "report": describe(("风险评估报告", "Report"), ("中文 PDF：各乡镇风险等级、原因与面积",
                                                       "Chinese PDF: level, reasons and areas per township"),
                                {"type": "string", "contentEncoding": "binary",
                                 "contentMediaType": "application/pdf"})},
            ["风险评估", "risk", "evaluation"], {"inputs": {"xzqdm": "430923"}}))

    def run(self, data: dict) -> dict[str, Output]:
        result, report = service.evaluate_risk(Settings.from_env(), _request(data), self.principal,
                                               self.progress, self.process_id)
        return {"risk": Output(lambda: result), "report": Output(lambda: report)}
