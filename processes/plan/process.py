"""pygeoapi plugins: plan-publish (成果发布) and plan-history (版本历史)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from onemap.core.errors import invalid
from processes.base import OneMapProcessor, describe, metadata, text_input
from processes.plan.results import history, publish

PUBLISH_METADATA = metadata(
    "plan-publish", ("成果发布", "Publish a plan version"),
    ("将质检合格的提交发布为新的规划版本：一个事务内写入，现行版本自生效时间起失效，历史版本保留",
     "Publishes a submission that passed its check as a new plan version, in one transaction: the version "
     "in force ends when the new one takes effect; earlier versions are kept"),
    {"submission_id": describe(("提交编号", "Submission id"), ("plan-submit 返回的编号", "As plan-submit returned it"),
                         {"type": "integer"}),
     "plan_version": describe(("版本号", "Version"), ("如 2021-2035-v2", "e.g. 2021-2035-v2"), {"type": "string"}),
     "valid_from": describe(("生效时间", "Valid from"), ("RFC 3339，带时区", "RFC 3339 with a time zone"),
                      {"type": "string", "format": "date-time"}),
     "title": describe(("版本名称", "Title"), ("默认为提交时的成果名称", "Default: the submission's title"),
                 {"type": "string"}, min_occurs=0)},
    {"version": describe(("已发布版本", "Published version"), ("版本、生效时间、各图层要素数", "Version, validity, features"),
                   {"type": "object"})},
    ["成果发布", "publish", "规划回溯"],
    {"inputs": {"submission_id": 1, "plan_version": "2021-2035-v2", "valid_from": "2025-01-01T00:00:00+08:00"}})


def datetime_input(data: dict, name: str, required: bool = True) -> dt.datetime | None:
    text = text_input(data, name, required=required)
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, f"{name} 应为 RFC 3339 时间，如 2025-01-01T00:00:00+08:00", f"{name} must be an RFC 3339 time, e.g. 2025-01-01T00:00:00+08:00") from None
    if value.tzinfo is None:
        raise invalid(name, f"{name} 必须带时区", f"{name} must carry a time zone")
    return value


class PlanPublishProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PUBLISH_METADATA)

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        try:
            submission = int(text_input(data, "submission_id", required=True))
        except ValueError:
            raise invalid("submission_id", "submission_id 应为整数", "submission_id must be an integer") from None
        version = publish(self.database_url, submission, text_input(data, "plan_version", required=True),
                          datetime_input(data, "valid_from"), self.principal, title=text_input(data, "title"),
                          progress=self.progress)
        return "application/json", {"version": {
            "plan_version": version.plan_version, "title": version.title,
            "valid_from": version.valid_from.isoformat(), "previous": version.previous,
            "features": version.layers, "submission_id": version.submission_id}}


HISTORY_METADATA = metadata(
    "plan-history", ("规划版本历史", "Plan version history"),
    ("全部规划版本及其有效期、发布人、各图层要素数；用 datetime 查询任一时刻的规划（规划回溯）",
     "Every plan version with its validity, publisher and features per layer; any past state is queried "
     "with the datetime parameter of the collections (规划回溯)"),
    {}, {"versions": describe(("版本", "Versions"), ("按生效时间排序", "By valid_from"), {"type": "array"})},
    ["规划回溯", "history"], {"inputs": {}})


class PlanHistoryProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, HISTORY_METADATA)

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        return "application/json", {"versions": history(self.database_url)}
