"""OGC API process `compliance-check` (合规性检测): the pygeoapi plugin, a
thin shell around service.py."""

from __future__ import annotations

from typing import Any

from onemap.core.settings import Settings
from processes.base import OneMapProcessor, Output
from processes.compliance import service

_TEXT = {"type": "string"}
PROCESS_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "compliance-check",
    "title": {"zh": "合规性检测", "en": "Compliance check"},
    "description": {
        "zh": "按业务阶段的规则集，将建设项目用地范围与规划用地用海、三条控制线、现状地类等图层叠加分析，"
              "给出检测结论、各规则的叠加面积与涉及要素，并生成检测报告（HTML、PDF）。",
        "en": "Overlays a project boundary with the planned land use, the three control lines, the current "
              "land use and other layers by the rule set of a business stage; returns the verdict, the overlap "
              "areas and features of every rule, and the report (HTML, PDF).",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "outputTransmission": ["value", "reference"],
    "keywords": ["合规性检测", "compliance", "用地预审", "三条控制线"],
    "links": [],
    "inputs": {
        "boundary": {
            "title": {"zh": "项目用地范围（GeoJSON）", "en": "Project boundary (GeoJSON)"},
            "description": {"zh": "GeoJSON 几何、Feature 或 FeatureCollection，默认 CRS84",
                            "en": "A GeoJSON geometry, Feature or FeatureCollection; CRS84 unless `crs` says"},
            "schema": {"type": "object", "contentMediaType": "application/geo+json"},
            "minOccurs": 0, "maxOccurs": 1,
        },
        "boundary_text": {
            "title": {"zh": "界址点坐标文件或 WKT", "en": "Coordinate file or WKT"},
            "description": {"zh": "界址点坐标文件文本（UTF-8，或 base64 编码的 GBK 字节）或 WKT/EWKT",
                            "en": "The coordinate text file (text, or GBK bytes as a base64 qualified value) "
                                  "or WKT / EWKT"},
            "schema": {"oneOf": [_TEXT, {"type": "object"}]}, "minOccurs": 0, "maxOccurs": 1,
        },
        "boundary_file": {
            "title": {"zh": "用地范围文件", "en": "Boundary file"},
            "description": {"zh": "zip 压缩的 Shapefile 或 GeoPackage（一个面图层），base64；"
                                  "可用 POST /ogc/processes/compliance-check/upload 上传",
                            "en": "A zipped shapefile or a GeoPackage with one polygon layer, base64; or upload "
                                  "it to POST /ogc/processes/compliance-check/upload"},
            "schema": {"type": "object", "contentEncoding": "base64"}, "minOccurs": 0, "maxOccurs": 1,
        },
        "crs": {"title": {"zh": "坐标参考系", "en": "CRS"},
                "description": {"zh": "输入未说明坐标系时使用，如 EPSG:4546、EPSG:4525",
                                "en": "When the input does not state it, e.g. EPSG:4546, EPSG:4525"},
                "schema": _TEXT, "minOccurs": 0, "maxOccurs": 1},
        "stage": {"title": {"zh": "业务阶段", "en": "Business stage"},
                  "description": {"zh": "如 用地预审、选址、农用地转用报批", "en": "e.g. 用地预审 (pre-examination)"},
                  "schema": _TEXT, "minOccurs": 1, "maxOccurs": 1},
        "use_code": {"title": {"zh": "拟用地用途代码", "en": "Project land-use code"},
                     "description": {"zh": "用地用海分类（2023）任一级代码，如 10 工矿用地、1001 工业用地、100101 一类工业用地",
                                     "en": "A code of any level of the 2023 classification, e.g. 10, 1001, 100101 (class-1 industrial)"},
                     "schema": _TEXT, "minOccurs": 1, "maxOccurs": 1},
        "case_id": {"title": {"zh": "案件编号", "en": "Case id"}, "schema": _TEXT, "minOccurs": 0, "maxOccurs": 1},
        "project_name": {"title": {"zh": "项目名称", "en": "Project name"}, "schema": _TEXT,
                         "minOccurs": 0, "maxOccurs": 1},
        "indicators": {
            "title": {"zh": "项目规划指标", "en": "Project indicators"},
            "description": {"zh": "方案审查、工程报建时申报、规划条件核实时实测的指标，与所在控规地块的规划条件核对："
                                  "rjl 容积率、jzmd 建筑密度（%）、jzxg 建筑高度（米）、ldl 绿地率（%）",
                            "en": "Declared at design review and construction permit, measured at verification; "
                                  "checked against the conditions of the detailed-plan plots: rjl floor-area ratio, "
                                  "jzmd building density (%), jzxg building height (m), ldl green ratio (%)"},
            "schema": {"type": "object", "additionalProperties": False,
                       "properties": {"rjl": {"type": "number", "minimum": 0},
                                      "jzmd": {"type": "number", "minimum": 0, "maximum": 100},
                                      "jzxg": {"type": "number", "minimum": 0},
                                      "ldl": {"type": "number", "minimum": 0, "maximum": 100}}},
            "minOccurs": 0, "maxOccurs": 1},
    },
    "outputs": {
        "result": {"title": {"zh": "检测结果", "en": "Result"},
                   "schema": {"type": "object", "contentMediaType": "application/json"}},
        "overlaps": {"title": {"zh": "叠加图斑", "en": "Overlap geometries"},
                     "schema": {"type": "object", "contentMediaType": "application/geo+json"}},
        "report_html": {"title": {"zh": "检测报告（HTML）", "en": "Report (HTML)"},
                        "schema": {"type": "string", "contentEncoding": "base64", "contentMediaType": "text/html"}},
        "report_pdf": {"title": {"zh": "检测报告（PDF）", "en": "Report (PDF)"},
                       "schema": {"type": "string", "contentEncoding": "binary", "contentMediaType": "application/pdf"}},
    },
    "example": {"inputs": {
        "boundary": {"type": "Polygon", "coordinates": [[[112.35, 28.55], [112.352, 28.55], [112.352, 28.552],
                                                         [112.35, 28.552], [112.35, 28.55]]]},
        "stage": "用地预审", "use_code": "1001", "case_id": "YS-2025-0001", "project_name": "示例项目"}},
}


class ComplianceCheckProcessor(OneMapProcessor):
    """With no `outputs` requested: the result and the overlaps inline, the
    reports by reference (rendered and filed on first download)."""

    default_outputs = {"result": "value", "overlaps": "value", "report_html": "reference",
                       "report_pdf": "reference"}
    references = frozenset({"report_html", "report_pdf"})

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PROCESS_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        settings = Settings.from_env()
        checked = service.check(settings.database_url, data, self.principal, self.job_id, self.progress)
        check_id = checked.stored.check_id

        def report(fmt: str) -> Output:
            def render() -> bytes:
                self.progress(80, "生成检测报告 / rendering the report")
                return service.report_bytes(settings.database_url, check_id, fmt, settings.base_url)

            return Output(render, href=settings.base_url + service.report_path(check_id, fmt))

        return {"result": Output(lambda: checked.stored.result), "overlaps": Output(lambda: checked.overlaps),
                "report_html": report("html"), "report_pdf": report("pdf")}
