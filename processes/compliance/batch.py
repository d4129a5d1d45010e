"""批量检测 A batch check: many boundaries of one case, or many cases, in
one asynchronous job of the e-government system; each item is checked and
stored as a check of its own, and an item that cannot be checked is reported
with its reason without stopping the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onemap.core.auth import Principal
from onemap.core.errors import OneMapError, invalid
from onemap.core.settings import config_dir, load_yaml
from processes.base import Progress, quiet
from processes.compliance import service


def business_types(directory: Path | None = None) -> dict[str, str]:
    """business type → stage (config/compliance.yaml `business_types`)."""
    return dict(load_yaml((directory or config_dir()) / "compliance.yaml").get("business_types") or {})


def item_inputs(item: Any, index: int, types: dict[str, str]) -> dict[str, Any]:
    """One item as the inputs of a single check: its business_type, when
    given instead of the stage, becomes the stage."""
    if not isinstance(item, dict):
        raise invalid(f"items[{index}]", f"第 {index + 1} 项应为对象", f"Item {index + 1} must be an object")
    if item.get("stage") or not item.get("business_type"):
        return item
    stage = types.get(str(item["business_type"]).strip())
    if stage is None:
        raise invalid(f"items[{index}].business_type",
                      f"第 {index + 1} 项的业务类型“{item['business_type']}”未配置；可用：{'、'.join(types)}",
                      f"Item {index + 1}: business type '{item['business_type']}' is not configured; "
                      f"available: {', '.join(types)}")
    return {**item, "stage": stage}


def check_batch(database_url: str, items: Any, principal: Principal, job_id: str | None = None,
                progress: Progress = quiet) -> dict[str, Any]:
    """Every item checked in turn: per item its check id and verdict, or the
    bilingual reason it was not checked (the field at fault named)."""
    limit = int(load_yaml(config_dir() / "compliance.yaml").get("max_batch_items", 200))
    if not isinstance(items, list) or not items:
        raise invalid("items", "items 应为非空数组（每项一个用地范围）", "items must be a non-empty array, an item a boundary")
    if len(items) > limit:
        raise invalid("items", f"一次最多检测 {limit} 项，收到 {len(items)} 项",
                      f"At most {limit} items a batch, got {len(items)}", status=413)
    types = business_types()
    results = []
    for index, item in enumerate(items):
        progress(10 + 85 * index // len(items), f"检测第 {index + 1}/{len(items)} 项 / item {index + 1}")
        try:
            stored = service.check(database_url, item_inputs(item, index, types), principal, job_id).stored
        except OneMapError as exc:
            problem = exc.problem
            field = f"items[{index}].{problem.field}" if problem.field and "[" not in problem.field else problem.field
            results.append({"index": index, "case_id": item.get("case_id") if isinstance(item, dict) else None,
                            "status": "failed", "error": {**problem.as_dict(), "field": field}})
            continue
        result = stored.result
        results.append({"index": index, "case_id": result.get("case_id"), "status": "checked",
                        "check_id": stored.check_id, "stage": result.get("stage"),
                        "verdict": result.get("verdict"), "verdict_en": result.get("verdict_en")})
    checked = sum(r["status"] == "checked" for r in results)
    return {"job_id": job_id, "items": results, "checked": checked, "failed": len(results) - checked}
