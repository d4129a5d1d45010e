"""Errors as users read them: Chinese first, English beside it, with the
OGC exception fields (`code`, `description`) so standard clients show them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    zh: str
    en: str
    field: str | None = None  # the parameter or feature at fault

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "code": self.code,
            "type": self.code,  # OGC API Processes' exception (RFC 7807) requires `type`
            "description": f"{self.zh} / {self.en}",
            "message_zh": self.zh,
            "message_en": self.en,
            "status": self.status,
        }
        if self.field:
            body["field"] = self.field
        return body

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict(), ensure_ascii=False).encode("utf-8")


class OneMapError(Exception):
    """An error to report to the caller as a Problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.zh} / {problem.en}")
        self.problem = problem


# pygeoapi's English messages (as prefixes or patterns) and what they say in
# Chinese, with the parameter they are about.
_PYGEOAPI_MESSAGES: list[tuple[str, str, str | None]] = [
    (r"^Invalid bbox|bbox", "bbox 参数无效：应为 minx,miny,maxx,maxy 四个（或六个）数字，且最小值不大于最大值", "bbox"),
    (r"^CRS .* not supported|crs", "不支持的坐标参考系（crs）；可用：CRS84、EPSG:4490、EPSG:4546、EPSG:4525", "crs"),
    (r"^Bad CQL|CQL|filter", "过滤条件（CQL2）无法解析", "filter"),
    (r"limit", "limit 参数无效或超过上限", "limit"),
    (r"offset", "offset 参数无效", "offset"),
    (r"datetime parameter out of range", "datetime 超出该图层的时间范围", "datetime"),
    (r"datetime|Unknown string format|does not contain a date", "datetime 参数无效：应为 RFC 3339 时间或时间区间", "datetime"),
    (r"sortby|sort", "排序参数 sortby 无效", "sortby"),
    (r"properties|property", "属性参数无效", "properties"),
    (r"[Cc]ollection not found|Invalid collection", "图层（集合）不存在", "collectionId"),
    (r"item not found|No such item|identifier", "要素不存在", "featureId"),
    (r"invalid format|unsupported format|format .*not supported", "不支持的输出格式（f）", "f"),
    (r"[Pp]rocess", "处理服务请求无效", None),
    (r"[Jj]ob", "任务不存在或请求无效", "jobId"),
    (r"tile", "瓦片请求无效：检查瓦片矩阵集与行列号", "tileMatrixSetId"),
]

_GENERIC_ZH = {
    400: "请求参数无效",
    401: "需要身份认证",
    403: "无权访问",
    404: "资源不存在",
    405: "不支持的请求方法",
    406: "不支持的响应格式",
    409: "请求冲突",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "请求内容无法处理",
    500: "服务器内部错误",
    502: "上游服务不可用",
    503: "服务暂不可用",
}


def chinese_for(status: int, english: str) -> tuple[str, str | None]:
    """The Chinese message (and the parameter at fault) for an English one."""
    for pattern, zh, field in _PYGEOAPI_MESSAGES:
        if status < 500 and re.search(pattern, english, re.IGNORECASE):
            return zh, field
    return _GENERIC_ZH.get(status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "错误"), None


def bilingual(status: int, body: dict[str, object]) -> dict[str, object]:
    """Add the Chinese message to an OGC exception body from pygeoapi (our
    plugins' errors carry their whole Problem as the description: kept)."""
    embedded = _embedded_problem(body.get("description"))
    if embedded is not None:
        return embedded
    body = {**body, **_wrapped_exception(body.get("description"))}
    english = str(body.get("description") or body.get("detail") or HTTPStatus(status).phrase)
    zh, field = chinese_for(status, english)
    # the members the OGC exception schemas require (code; type for Processes)
    code = str(body.get("code") or body.get("type") or _CODES.get(status, HTTPStatus(status).phrase.replace(" ", "")))
    body.update({"code": code, "type": body.get("type") or code, "description": f"{zh} / {english}",
                 "message_zh": zh, "message_en": english, "status": status})
    if field and "field" not in body:
        body["field"] = field
    return body


def _wrapped_exception(description: object) -> dict[str, object]:
    """pygeoapi's tiles API puts a whole exception, as JSON, in the description."""
    if isinstance(description, str) and description.startswith("{"):
        try:
            wrapped = json.loads(description)
        except ValueError:
            return {}
        return wrapped if isinstance(wrapped, dict) else {}
    return {}


def _embedded_problem(description: object) -> dict[str, object] | None:
    if not isinstance(description, str) or not description.startswith("{"):
        return None
    try:
        problem = json.loads(description)
    except ValueError:
        return None
    if isinstance(problem, dict) and {"message_zh", "message_en", "code"} <= problem.keys():
        return problem
    if isinstance(problem, dict):  # pygeoapi's tiles API wraps the description once more
        return _embedded_problem(problem.get("description"))
    return None


RETRY_AFTER_S = "5"  # a restart or failover of PostgreSQL takes seconds
DATABASE_DOWN = Problem(503, "ServiceUnavailable", "数据库暂时不可用，请稍后重试",
                        "The database is briefly unavailable: retry shortly")

_CODES = {400: "InvalidParameterValue", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
          409: "Conflict", 413: "PayloadTooLarge", 422: "UnprocessableEntity"}


def invalid(field: str | None, zh: str, en: str, status: int = 400, code: str | None = None) -> OneMapError:
    """The error for bad input: the field (or feature) at fault, the message
    in Chinese and English, the status (400 unless it says otherwise)."""
    return OneMapError(Problem(status, code or _CODES.get(status, "InvalidParameterValue"), zh, en, field=field))
