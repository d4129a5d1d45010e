"""pygeoapi plugins: plan-qc (成果质检) and plan-submit (成果提交)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from processes.base import (
    BINARY_PACKAGE_SCHEMA,
    OneMapProcessor,
    binary_output,
    describe,
    metadata,
    text_input,
    wanted,
)
from processes.plan.results import CheckRecord, check_package, submit
from processes.qc.package import materialize

_PACKAGE = describe(("规划成果数据包", "Plan package"),
              ("GeoPackage 或 shapefile 的 zip 压缩包：base64 值、href 链接，或经 /upload 上传",
               "A GeoPackage or a zip of shapefiles: base64 value, href, or uploaded through /upload"),
              BINARY_PACKAGE_SCHEMA)
_EDITION = describe(("标准版本", "Edition"), ("规范版本，默认为数据包声明的或现行版本",
                                       "Edition of the specification; default: declared by the package, or current"),
              {"type": "string"}, min_occurs=0)
_OUTPUTS = {
    "summary": describe(("质检汇总", "Summary"), ("按规则和级别计数，是否合格", "Counts by rule and severity, pass/fail"),
                  {"type": "object"}),
    "findings": describe(("问题清单", "Findings"), ("每条：规则、级别、图层、要素、中英文说明、位置",
                                            "Each: rule, severity, layer, feature, messages, geometry"),
                   {"type": "array"}),
    "report_html": describe(("质检报告（HTML）", "Report (HTML)"), ("中文报告，含总览图", "Report with overview map"),
                      {"type": "string", "contentEncoding": "base64", "contentMediaType": "text/html"}),
    "report_pdf": describe(("质检报告（PDF）", "Report (PDF)"), ("中文报告，嵌入中文字体", "Report, CJK font embedded"),
                     {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/pdf"}),
    "error_layer": describe(("错误图层", "Error layer"), ("GeoPackage，可在 QGIS 中与数据包叠加",
                                                  "GeoPackage to open in QGIS beside the package"),
                      {"type": "string", "contentEncoding": "base64",
                       "contentMediaType": "application/geopackage+sqlite3"}),
}


def check_outputs(record: CheckRecord, outputs: dict | None) -> dict[str, Any]:
    result = {"qc_run": record.run_id}
    if wanted(outputs, "summary"):
        result["summary"] = record.result.summary()
    if wanted(outputs, "findings"):
        result["findings"] = [f.as_dict() for f in record.result.findings]
    if wanted(outputs, "report_html"):
        # as base64: pygeoapi escapes markup in JSON string values
        result["report_html"] = binary_output(record.report_html.encode("utf-8"), "text/html")
    if wanted(outputs, "report_pdf"):
        result["report_pdf"] = binary_output(record.report_pdf, "application/pdf")
    if wanted(outputs, "error_layer"):
        result["error_layer"] = binary_output(record.error_gpkg, "application/geopackage+sqlite3")
    return result


PROCESS_METADATA = metadata(
    "plan-qc", ("成果质检", "Plan package quality check"),
    ("按规划成果数据包规范逐条检查数据包：结构、属性、几何、拓扑、三线、面积与指标",
     "Checks a plan package rule by rule against the package specification: structure, attributes, "
     "geometry, topology, control lines, areas and indicators"),
    {"package": _PACKAGE, "edition": _EDITION}, _OUTPUTS, ["成果质检", "quality check", "plan package"],
    {"inputs": {"package": {"href": "https://example.gov.cn/plan.gpkg"}}})


class PlanQcProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PROCESS_METADATA)

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        with tempfile.TemporaryDirectory(prefix="onemap-qc-in-") as tmp:
            package = materialize(data.get("package"), Path(tmp))
            record = check_package(self.database_url, package, self.principal,
                                   edition=text_input(data, "edition"), progress=self.progress)
        return "application/json", check_outputs(record, outputs)


SUBMIT_METADATA = metadata(
    "plan-submit", ("成果提交", "Submit a plan package"),
    ("提交规划成果数据包：保存、质检并登记，合格的可发布为新的规划版本",
     "Submits a plan package: kept, checked and recorded; a clean one can be published as a new plan version"),
    {"package": _PACKAGE, "edition": _EDITION,
     "title": describe(("成果名称", "Title"), ("如 益阳市国土空间总体规划（2021—2035年）修改", "The plan's title"),
                 {"type": "string"})},
    {**_OUTPUTS, "submission_id": describe(("提交编号", "Submission id"), ("发布时引用", "Referred to by plan-publish"),
                                     {"type": "integer"})},
    ["成果提交", "submission"], {"inputs": {"title": "益阳市国土空间总体规划（2021—2035年）",
                                       "package": {"href": "https://example.gov.cn/plan.gpkg"}}})


class PlanSubmitProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, SUBMIT_METADATA)

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        title = text_input(data, "title", required=True)
        with tempfile.TemporaryDirectory(prefix="onemap-submit-in-") as tmp:
            package = materialize(data.get("package"), Path(tmp))
            sid, record = submit(self.database_url, package, title, self.principal,
                                 edition=text_input(data, "edition"), progress=self.progress)
        return "application/json", {"submission_id": sid, **check_outputs(record, outputs)}
