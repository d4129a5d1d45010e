"""OGC API process `compliance-batch-check` (批量合规性检测): the pygeoapi
plugin, a thin shell around batch.py."""

from __future__ import annotations

from processes.base import OneMapProcessor, Output, describe, metadata
from processes.compliance import batch

_BOX = [[[112.35, 28.55], [112.352, 28.55], [112.352, 28.552], [112.35, 28.552], [112.35, 28.55]]]
PROCESS_METADATA = metadata(
    "compliance-batch-check", ("批量合规性检测", "Batch compliance check"),
    ("一次检测多个用地范围（一个案件的多个地块或多个案件），每项按其业务阶段或业务类型的规则集检测并单独保存；"
     "某项输入有误时给出原因，不影响其他项。宜异步执行（Prefer: respond-async），结果可回调。",
     "Checks many boundaries (parcels of one case or many cases) in one job, each by the rule set of its "
     "business stage or business type, each stored as a check of its own; an item with bad input is reported "
     "with its reason without stopping the others. Best run asynchronously, with callbacks."),
    {"items": describe(("检测项", "Items"),
                       ("数组；每项同 compliance-check 的输入（boundary、stage 或 business_type、use_code、case_id、"
                        "project_name）",
                        "An array; each item takes the inputs of compliance-check (boundary, stage or business_type, "
                        "use_code, case_id, project_name)"),
                       {"type": "array", "items": {"type": "object"}})},
    {"result": {"title": {"zh": "逐项结果", "en": "Per-item results"},
                "schema": {"type": "object", "contentMediaType": "application/json"}}},
    ["合规性检测", "批量", "compliance", "batch"],
    {"inputs": {"items": [{"boundary": {"type": "Polygon", "coordinates": _BOX}, "business_type": "建设工程规划许可证",
                           "use_code": "0701", "case_id": "GC-2025-0001"}]}})


class ComplianceBatchCheckProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PROCESS_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        result = batch.check_batch(self.database_url, data.get("items"), self.principal, self.job_id, self.progress)
        return {"result": Output(lambda: result)}
