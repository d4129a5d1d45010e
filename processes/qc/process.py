"""pygeoapi plugin plan-qc (成果质检), and the check's inputs and outputs
that plan-submit shares."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from processes.base import (
    BINARY_PACKAGE_SCHEMA,
    OneMapProcessor,
    Output,
    Progress,
    describe,
    metadata,
    text_input,
)
from processes.qc.package import materialize
from processes.qc.record import CheckRecord, check_package, error_gpkg, report_pdf
from processes.qc.report import report_html

PACKAGE = describe(("规划成果数据包", "Plan package"),
              ("GeoPackage 或 shapefile 的 zip 压缩包：base64 值、href 链接，或经 /upload 上传",
               "A GeoPackage or a zip of shapefiles: base64 value, href, or uploaded through /upload"),
              BINARY_PACKAGE_SCHEMA)
EDITION = describe(("标准版本", "Edition"), ("规范版本，默认为数据包声明的或现行版本",
                                       "Edition of the specification; default: declared by the package, or current"),
              {"type": "string"}, min_occurs=0)
OUTPUTS = {
    "qc_run": describe(("质检记录编号", "Check run id"), ("plan.qc_run 中的记录", "The run's record in plan.qc_run"),
                 {"type": "integer"}),
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


def check_outputs(record: CheckRecord, progress: Progress) -> dict[str, Output]:
    def rendered(render: Callable[[CheckRecord], bytes]) -> Output:
        def value() -> bytes:
            progress(96, "生成报告 / writing the report")
            return render(record)

        return Output(value)

    return {
        "qc_run": Output(lambda: record.run_id),
        "summary": Output(record.result.summary),
        "findings": Output(lambda: [f.as_dict() for f in record.result.findings]),
        "report_html": Output(lambda: report_html(record.result).encode("utf-8")),
        "report_pdf": rendered(report_pdf),
        "error_layer": rendered(error_gpkg),
    }


PROCESS_METADATA = metadata(
    "plan-qc", ("成果质检", "Plan package quality check"),
    ("按规划成果数据包规范逐条检查数据包：结构、属性、几何、拓扑、三线、面积与指标",
     "Checks a plan package rule by rule against the package specification: structure, attributes, "
     "geometry, topology, control lines, areas and indicators"),
    {"package": PACKAGE, "edition": EDITION}, OUTPUTS, ["成果质检", "quality check", "plan package"],
    {"inputs": {"package": {"href": "https://example.gov.cn/plan.gpkg"}}})


class PlanQcProcessor(OneMapProcessor):
    identifiers = frozenset({"qc_run"})

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PROCESS_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        with tempfile.TemporaryDirectory(prefix="onemap-qc-in-") as tmp:
            package = materialize(data.get("package"), Path(tmp))
            record = check_package(self.database_url, package, self.principal,
                                   edition=text_input(data, "edition"), progress=self.progress)
        return check_outputs(record, self.progress)

