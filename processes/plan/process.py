"""pygeoapi plugins: plan-submit (成果提交), plan-publish (成果发布) and
plan-history (版本历史)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from processes.base import (
    OneMapProcessor,
    Output,
    datetime_input,
    describe,
    integer_input,
    metadata,
    text_input,
)
from processes.plan.results import history, publish, submit
from processes.qc.package import materialize
from processes.qc.process import EDITION, OUTPUTS, PACKAGE, check_outputs

SUBMIT_METADATA = metadata(
    "plan-submit", ("成果提交", "Submit a plan package"),
    ("提交规划成果数据包：保存、质检并登记，合格的可发布为新的规划版本",
     "Submits a plan package: kept, checked and recorded; a clean one can be published as a new plan version"),
    {"package": PACKAGE, "edition": EDITION,
     "title": describe(("成果名称", "Title"), ("如 益阳市国土空间总体规划（2021—2035年）修改", "The plan's title"),
                 {"type": "string"})},
    {**OUTPUTS, "submission_id": describe(("提交编号", "Submission id"), ("发布时引用", "Referred to by plan-publish"),
                                    {"type": "integer"})},
    ["成果提交", "submission"], {"inputs": {"title": "益阳市国土空间总体规划（2021—2035年）",
                                       "package": {"href": "https://example.gov.cn/plan.gpkg"}}})


class PlanSubmitProcessor(OneMapProcessor):
    identifiers = frozenset({"submission_id", "qc_run"})

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, SUBMIT_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        title = text_input(data, "title", required=True)
        with tempfile.TemporaryDirectory(prefix="onemap-submit-in-") as tmp:
            package = materialize(data.get("package"), Path(tmp))
            sid, record = submit(self.database_url, package, title, self.principal,
                                 edition=text_input(data, "edition"), progress=self.progress)
        return {"submission_id": Output(lambda: sid), **check_outputs(record, self.progress)}


PUBLISH_METADATA = metadata(
    "plan-publish", ("成果发布", "Publish a plan version"),
    ("将质检合格的提交发布为新的规划版本：一个事务内写入，现行版本自生效时间起失效，历史版本保留",
     "Publishes a submission that passed its check as a new plan version, in one transaction: the version "
     "in force ends when the new one takes effect; earlier versions are kept"),
    {"submission_id": describe(("提交编号", "Submission id"), ("plan-submit 返回的编号", "As plan-submit returned it"),
                         {"type": "integer"}),
     "plan_version": describe(("版本号", "Version"), ("如 2021-2035-v3", "e.g. 2021-2035-v3"), {"type": "string"}),
     "valid_from": describe(("生效时间", "Valid from"), ("RFC 3339，带时区", "RFC 3339 with a time zone"),
                      {"type": "string", "format": "date-time"}),
     "title": describe(("版本名称", "Title"), ("默认为提交时的成果名称", "Default: the submission's title"),
                 {"type": "string"}, min_occurs=0)},
    {"version": describe(("已发布版本", "Published version"), ("版本、生效时间、各图层要素数", "Version, validity, features"),
                   {"type": "object"})},
    ["成果发布", "publish", "规划回溯"],
    {"inputs": {"submission_id": 1, "plan_version": "2021-2035-v3", "valid_from": "2027-01-01T00:00:00+08:00"}})


class PlanPublishProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PUBLISH_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        version = publish(self.database_url, integer_input(data, "submission_id", required=True),
                          text_input(data, "plan_version", required=True), datetime_input(data, "valid_from"),
                          self.principal, title=text_input(data, "title"), progress=self.progress)
        return {"version": Output(lambda: {
            "plan_version": version.plan_version, "title": version.title,
            "valid_from": version.valid_from.isoformat(), "previous": version.previous,
            "features": version.layers, "submission_id": version.submission_id})}


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

    def run(self, data: dict) -> dict[str, Output]:
        return {"versions": Output(lambda: history(self.database_url))}
