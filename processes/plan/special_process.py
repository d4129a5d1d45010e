"""pygeoapi plugin special-plan-check (专项规划与总体规划一致性检查)."""

from __future__ import annotations

from typing import Any

from onemap.core.db import connect
from onemap.core.errors import invalid
from processes.base import OneMapProcessor, Output, datetime_input, describe, metadata
from processes.plan.special import check_against_master_plan, special_plan_layers

METADATA = metadata(
    "special-plan-check", ("专项规划一致性检查", "Special plans against the master plan"),
    ("检查专项规划图层与同一时刻现行的总体规划是否一致：建设类设施不得位于生态保护红线和永久基本农田内；设施用地与总体规划用地"
     "重叠处按用地用海兼容性矩阵判定；问题逐条给出要素、面积与重叠范围",
     "Checks special plan layers against the master plan in force at the same instant: no construction "
     "facility in the ecological red line or the permanent basic farmland; where a facility overlaps the "
     "master plan's land use, the compatibility matrix judges it; each finding with its feature, area and "
     "overlap"),
    {"layers": describe(("专项规划图层", "Special plan layers"), ("如 ZXGH_JT；默认全部", "e.g. ZXGH_JT; default: all"),
                        {"type": "array", "items": {"type": "string"}}, min_occurs=0),
     "datetime": describe(("时刻", "Instant"), ("RFC 3339；默认为现在", "RFC 3339; default: now"),
                          {"type": "string", "format": "date-time"}, min_occurs=0)},
    {"result": describe(("检查结果", "Result"), ("每个图层的结论与问题清单", "Verdict and findings per layer"),
                        {"type": "object"})},
    ["专项规划", "special plan", "一致性"], {"inputs": {"layers": ["ZXGH_JT"]}})


class SpecialPlanCheckProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        known = [layer.id for layer in special_plan_layers()]
        wanted = data.get("layers") or known
        if not isinstance(wanted, list) or any(name not in known for name in wanted):
            raise invalid("layers", f"专项规划图层应为以下之一：{'、'.join(known)}",
                          f"layers must be among {', '.join(known)}")
        at = datetime_input(data, "datetime", required=False)
        result: dict[str, Any] = {"datetime": at.isoformat() if at else None, "layers": []}
        with connect(self.database_url) as conn:
            for name in wanted:
                findings = check_against_master_plan(conn, name, at)
                passed = not any(f.violation for f in findings)
                result["layers"].append({"layer": name, "passed": passed,
                                         "verdict_zh": "合格" if passed else "不合格",
                                         "verdict_en": "passed" if passed else "failed",
                                         "findings": [f.as_dict() for f in findings]})
        return {"result": Output(lambda: result)}
