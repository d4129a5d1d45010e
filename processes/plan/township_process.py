"""pygeoapi plugins: township-publish (乡镇规划发布) and township-status
(乡镇规划报批状态)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from processes.base import OneMapProcessor, Output, datetime_input, describe, metadata, text_input
from processes.plan.township import STATUSES, publish_township, set_status, statuses
from processes.qc.package import materialize
from processes.qc.process import OUTPUTS, PACKAGE, check_outputs

PUBLISH_METADATA = metadata(
    "township-publish", ("乡镇规划发布", "Publish a township plan version"),
    ("按乡镇级规范版本质检乡镇国土空间总体规划数据包（含约束性指标与市级分解下达的比对），合格的在一个事务内发布为该乡镇的"
     "规划版本：该乡镇的现行版本自生效时间起失效，市级总体规划和其他乡镇不受影响，报批状态置为已质检；配置了省级上报地址时，数据包随后上报省级平台",
     "Checks a township master plan package by the township edition (its binding indicators against the "
     "city's allocation included) and publishes a clean one as a version of that township in one "
     "transaction: the township's version in force ends when it takes effect; the city's master plan and "
     "the other townships are untouched; the township's status becomes 已质检 (checked); with the province's "
     "upload endpoint configured, the package then goes up to the province"),
    {"package": PACKAGE,
     "plan_version": describe(("版本号", "Version"), ("如 430902101-2021-2035", "e.g. 430902101-2021-2035"),
                              {"type": "string"}),
     "valid_from": describe(("生效时间", "Valid from"), ("RFC 3339，带时区", "RFC 3339 with a time zone"),
                            {"type": "string", "format": "date-time"}),
     "title": describe(("版本名称", "Title"), ("默认为数据包文件名", "Default: the package's file name"),
                       {"type": "string"}, min_occurs=0)},
    {**OUTPUTS, "version": describe(("已发布版本", "Published version"), ("乡镇、版本、生效时间、各图层要素数",
                                                                  "Township, version, validity, features"),
                                    {"type": "object"})},
    ["乡镇级国土空间总体规划", "township plan", "成果发布"],
    {"inputs": {"package": {"href": "https://example.gov.cn/township.gpkg"}, "plan_version": "430902101-2035",
                "valid_from": "2025-01-01T00:00:00+08:00"}})


class TownshipPublishProcessor(OneMapProcessor):
    identifiers = frozenset({"qc_run"})

    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PUBLISH_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        with tempfile.TemporaryDirectory(prefix="onemap-township-in-") as tmp:
            package = materialize(data.get("package"), Path(tmp))
            version, record = publish_township(
                self.database_url, package, text_input(data, "plan_version", required=True),
                datetime_input(data, "valid_from"), self.principal, title=text_input(data, "title"),
                progress=self.progress)
        return {"version": Output(version.as_dict), **check_outputs(record, self.progress)}


STATUS_METADATA = metadata(
    "township-status", ("乡镇规划报批状态", "Township plan status"),
    ("列出各乡镇国土空间总体规划的报批状态（编制中、已质检、已上报、已批复）及现行乡镇规划版本；给出 status 时修改一个乡镇的状态并留痕",
     "Lists each township plan's submission status (编制中 drafting, 已质检 checked, 已上报 submitted, "
     "已批复 approved) and the township version in force; with `status`, changes one township's status "
     "(audited)"),
    {"xzqdm": describe(("乡镇代码", "Township code"), ("9 位；不给出则列出全部乡镇", "9 digits; none: every township"),
                       {"type": "string"}, min_occurs=0),
     "status": describe(("新状态", "New status"), ("、".join(STATUSES), ", ".join(STATUSES)),
                        {"type": "string", "enum": list(STATUSES)}, min_occurs=0),
     "note": describe(("说明", "Note"), ("如 上报文号", "e.g. the submission's reference"), {"type": "string"},
                      min_occurs=0)},
    {"townships": describe(("乡镇", "Townships"), ("代码、名称、状态、现行版本", "Code, name, status, version in force"),
                           {"type": "array"})},
    ["乡镇级国土空间总体规划", "township plan", "报批状态"],
    {"inputs": {"xzqdm": "430902101", "status": "已上报", "note": "益自然资函〔2025〕12号"}})


class TownshipStatusProcessor(OneMapProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, STATUS_METADATA)

    def run(self, data: dict) -> dict[str, Output]:
        status = text_input(data, "status")
        xzqdm = text_input(data, "xzqdm", required=status is not None)
        if status is not None:
            set_status(self.database_url, xzqdm, status, text_input(data, "note", default="") or "", self.principal)
        rows = statuses(self.database_url, xzqdm)
        return {"townships": Output(lambda: rows)}
