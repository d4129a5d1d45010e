"""pygeoapi plugins: indicator-compute (指标计算), indicator-warning (监测预警),
indicator-warning-handle (预警处置), indicator-transmission (指标传导) and
implementation-evaluation (实施评估). Thin shells over the domain modules."""

from __future__ import annotations

from dataclasses import asdict

from onemap.core.errors import invalid
from processes.base import (
    OneMapProcessor,
    Output,
    describe,
    integer_input,
    metadata,
    pdf_from_html,
    text_input,
)
from processes.supervision import evaluation, horizontal, monitoring, transmission, warning

_YEAR = describe(("监测年度", "Year"), ("如 2025", "e.g. 2025"), {"type": "integer"})
_CODES = describe(("指标编码", "Indicators"), ("默认全部", "Default: all"), {"type": "array", "items": {"type": "string"}}, 0)


def _codes(data: dict) -> list[str] | None:
    codes = data.get("indicators")
    if codes is None:
        return None
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise invalid("indicators", "indicators 应为指标编码数组", "indicators must be an array of codes")
    return codes


def _year(data: dict) -> int:
    year = integer_input(data, "year", required=True)
    if not 1990 <= year <= 2100:
        raise invalid("year", "年度应在 1990–2100 之间", "year must be between 1990 and 2100")
    return year


COMPUTE_METADATA = metadata(
    "indicator-compute", ("指标计算", "Indicator computation"),
    ("按当年一张图数据（当年现行规划、当年土地利用现状）计算各指标在市、县、乡镇的监测值并保存，记录模型版本与数据版本",
     "Computes and stores the monitoring values of the model-computed indicators for the city, counties and "
     "townships from the One Map of that year, recording model and data versions"),
    {"year": _YEAR, "indicators": _CODES},
    {"values": describe(("监测值", "Values"), ("指标 × 行政区", "Indicator × unit"), {"type": "object"})},
    ["指标计算", "monitoring"], {"inputs": {"year": 2025}})


class IndicatorComputeProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, COMPUTE_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        year, codes = _year(data), _codes(data)
        self.progress(10, f"计算 {year} 年监测值 / computing {year}")
        values = monitoring.compute_and_store(self.database_url, year, self.principal, codes)
        return {"values": Output(lambda: {"year": year, "count": len(values),
                                          "values": [asdict(v) for v in values]})}


WARNING_METADATA = metadata(
    "indicator-warning", ("监测预警", "Indicator warning"),
    ("按预警规则评估某年度已保存的监测值（绿色正常 / 黄色预警 / 红色超限），新出现的预警记录其数值、阈值、规则、行政区、"
     "年度与数据版本；同一状态不重复预警",
     "Assesses a year's stored values by the warning rules (green / yellow / red) and records each new "
     "warning with value, threshold, rule, unit, period and data versions; a state is raised once"),
    {"year": _YEAR, "indicators": _CODES},
    {"warnings": describe(("预警", "Warnings"), ("新预警与各级别数量", "New warnings and counts per level"),
                          {"type": "object"})},
    ["监测预警", "warning"], {"inputs": {"year": 2025}})


class IndicatorWarningProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, WARNING_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        result = warning.evaluate(self.database_url, _year(data), self.principal, _codes(data))
        return {"warnings": Output(lambda: result)}


HANDLE_METADATA = metadata(
    "indicator-warning-handle", ("预警处置", "Warning handling"),
    ("确认（acknowledge）或关闭（close）一条预警，须填写处理意见，留痕",
     "Acknowledges or closes a warning with a comment (audited)"),
    {"warning_id": describe(("预警编号", "Warning id"), ("", ""), {"type": "integer"}),
     "action": describe(("操作", "Action"), ("acknowledge 确认 / close 关闭", "acknowledge / close"),
                        {"type": "string", "enum": list(warning.ACTIONS)}),
     "comment": describe(("处理意见", "Comment"), ("", ""), {"type": "string"})},
    {"warning": describe(("预警", "Warning"), ("处置后的预警", "The warning after the change"), {"type": "object"})},
    ["预警处置", "warning"], {"inputs": {"warning_id": 1, "action": "acknowledge", "comment": "已核实，督促整改"}})


class IndicatorWarningHandleProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, HANDLE_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        result = warning.handle(self.database_url, integer_input(data, "warning_id", required=True),
                                text_input(data, "action", required=True),
                                text_input(data, "comment", required=True), self.principal)
        return {"warning": Output(lambda: result)}


TRANSMISSION_METADATA = metadata(
    "indicator-transmission", ("指标传导", "Indicator transmission"),
    ("纵向传导检查：市级目标分解到区县、乡镇，下级分解之和是否满足上级目标（保护类不低于、建设类不高于），各单位监测值是否"
     "满足其分解值；横向传导检查（check=horizontal）：详细规划、专项规划与总体规划一致——生态保护红线、永久基本农田内无"
     "建设用地，各行政区分类面积符合总体规划；返回带状态的传导树（JSON）和中文报告（PDF）",
     "Vertical transmission check: do the allocations to counties and townships add up to the target above "
     "(protection: at least; construction: at most), and does each unit's value meet its allocation; horizontal "
     "check (check=horizontal): detailed and special plans agree with the master plan - no construction land in "
     "the red line or the basic farmland, totals per class within the master plan's; a tree with a status per "
     "node (JSON) and a Chinese report (PDF)"),
    {"check": describe(("检查类型", "Check"), ("vertical 纵向（默认）或 horizontal 横向",
                                               "vertical (default) or horizontal"),
                       {"type": "string", "enum": ["vertical", "horizontal"]}, 0),
     "indicator": describe(("指标编码", "Indicator"), ("纵向检查必填，如 ZB04 耕地保有量", "Vertical check: e.g. ZB04"),
                           {"type": "string"}, 0),
     "target_year": describe(("目标年", "Target year"), ("纵向检查必填：2025 或 2035", "Vertical check: 2025 or 2035"),
                             {"type": "integer"}, 0),
     "year": describe(("监测年度", "Year"), ("默认同目标年", "Default: the target year"), {"type": "integer"}, 0)},
    {"tree": describe(("传导树", "Tree"), ("每个节点的目标、下级之和、监测值与状态",
                                          "Target, sum below, value and status per node"), {"type": "object"}),
     "report": describe(("报告", "Report"), ("中文 PDF", "Chinese PDF"),
                        {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/pdf"})},
    ["指标传导", "transmission"], {"inputs": {"indicator": "ZB04", "target_year": 2025}})


class IndicatorTransmissionProcessor(OneMapProcessor):
    default_outputs = {"tree": "value"}

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, TRANSMISSION_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        kind = text_input(data, "check") or "vertical"
        if kind == "horizontal":
            result = horizontal.run(self.database_url, self.principal)
            return {"tree": Output(lambda: result),
                    "report": Output(lambda: pdf_from_html(horizontal.report_html(result)))}
        if kind != "vertical":
            raise invalid("check", f"检查类型应为 vertical 或 horizontal，收到“{kind}”",
                          f"check must be vertical or horizontal, got '{kind}'")
        target_year = integer_input(data, "target_year", required=True)
        period = integer_input(data, "year") or target_year
        result = transmission.run(self.database_url, text_input(data, "indicator", required=True), target_year,
                                  period, self.principal)
        return {"tree": Output(lambda: result),
                "report": Output(lambda: pdf_from_html(transmission.report_html(result)))}


EVALUATION_METADATA = metadata(
    "implementation-evaluation", ("实施评估", "Implementation evaluation"),
    ("年度实施评估（城市体检）：某指标体系全部指标的市级年度值、较上年变化、目标与级别，及带趋势图的中文 PDF 报告",
     "Annual evaluation (city check-up): every indicator of a system for the city - value, change, target and "
     "level - and a Chinese PDF report with trend charts"),
    {"year": _YEAR,
     "system": describe(("指标体系", "System"), ("guide-35 或 checkup，默认 checkup", "guide-35 or checkup"),
                        {"type": "string"}, 0)},
    {"evaluation": describe(("评估结果", "Evaluation"), ("", ""), {"type": "object"}),
     "report": describe(("报告", "Report"), ("中文 PDF", "Chinese PDF"),
                        {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/pdf"})},
    ["实施评估", "城市体检", "evaluation"], {"inputs": {"year": 2025, "system": "checkup"}})


class ImplementationEvaluationProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, EVALUATION_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        year = _year(data)
        self.progress(20, f"评估 {year} 年 / evaluating {year}")
        result, pdf = evaluation.run(self.database_url, text_input(data, "system", default="checkup"), year,
                                     self.principal)
        return {"evaluation": Output(lambda: result), "report": Output(lambda: pdf)}
