"""CSW requests and answers as the gateway sees them: which operation a
request is (Transaction and Harvest need an admin token), pycsw's exception
reports with a Chinese message beside the English one, and the gateway's own
errors in the OWS exception format CSW clients read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from onemap.core.errors import OneMapError, Problem

# Operations that change the repository or make the server fetch from, or
# send to, another address: admin only.
MANAGING_OPERATIONS = frozenset({"Transaction", "Harvest"})
OWS = "http://www.opengis.net/ows"
SOAP = "{http://www.w3.org/2003/05/soap-envelope}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class CswOperation:
    name: str  # GetRecords, Transaction, ... ('' when the request names none)
    manages: bool


def operation_of(method: str, args: Mapping[str, str], body: bytes) -> CswOperation:
    """The operation of a CSW request: KVP `request=` for GET, the root
    element of the XML body (inside a SOAP envelope) for POST. A body that
    is not XML is a 400 OneMapError."""
    if method != "POST":
        kvp = {k.lower(): v for k, v in args.items()}
        name = kvp.get("request", "")
        return CswOperation(name, name in MANAGING_OPERATIONS or "responsehandler" in kvp)
    if not body.strip():
        raise OneMapError(Problem(400, "MissingParameterValue", "POST 请求体为空：应为 CSW XML 请求",
                                  "The POST body is empty: a CSW XML request is expected", field="request"))
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise OneMapError(Problem(400, "NoApplicableCode", f"请求体不是格式正确的 XML：{exc}",
                                  f"The request body is not well-formed XML: {exc}", field="request")) from exc
    if root.tag == f"{SOAP}Envelope":
        body_el = root.find(f"{SOAP}Body")
        root = body_el[0] if body_el is not None and len(body_el) else root
    name = etree.QName(root).localname
    manages = name in MANAGING_OPERATIONS or any(
        etree.QName(el).localname == "ResponseHandler" for el in root.iter() if isinstance(el.tag, str))
    return CswOperation(name, manages)


# pycsw's exception codes, locators and English messages, and what they say
# in Chinese (the first that fits).
_MESSAGES: list[tuple[str, str | None, str | None, str]] = [
    ("NoApplicableCode", None, "Exception: the document is not valid", "请求文档不符合 CSW 的 XML 模式"),
    ("NoApplicableCode", None, "Exception: document not well-formed", "请求体不是格式正确的 XML"),
    ("MissingParameterValue", None, None, "缺少必需的参数：{locator}"),
    ("InvalidParameterValue", None, "Invalid Constraint", "查询条件（constraint）无效"),
    ("InvalidParameterValue", "request", None, "不支持的操作（request 参数）"),
    ("InvalidParameterValue", "service", None, "service 参数必须为 CSW"),
    ("InvalidParameterValue", "version", None, "version 参数无效：应为 2.0.2 或 3.0.0"),
    ("InvalidParameterValue", "outputschema", None, "不支持的输出模式（outputSchema）"),
    ("InvalidParameterValue", "typenames", None, "不支持的记录类型（typeNames）"),
    ("InvalidParameterValue", "elementsetname", None, "elementSetName 无效：应为 brief、summary 或 full"),
    ("InvalidParameterValue", "constraint", None, "查询条件（constraint）无效"),
    ("InvalidParameterValue", "constraintlanguage", None, "查询语言（constraintLanguage）无效：应为 FILTER 或 CQL_TEXT"),
    ("InvalidParameterValue", "bbox", None, "bbox 参数无效"),
    ("InvalidParameterValue", "outputformat", None, "不支持的输出格式（outputFormat）"),
    ("InvalidParameterValue", "resourcetype", None, "不支持的采集资源类型（resourceType）"),
    ("InvalidParameterValue", "source", None, "无法从采集源（source）获取元数据"),
    ("InvalidParameterValue", None, None, "参数 {locator} 的值无效"),
    ("VersionNegotiationFailed", None, None, "版本协商失败：本服务支持 CSW 2.0.2 与 3.0.0"),
    ("OperationNotSupported", None, None, "该服务不支持此操作"),
    ("OptionNotSupported", None, None, "该服务不支持此选项"),
    ("NotFound", None, None, "记录不存在"),
    ("NoApplicableCode", None, None, "请求无法处理：{locator}"),
]


def chinese_for(code: str, locator: str, english: str) -> str:
    for known_code, known_locator, prefix, zh in _MESSAGES:
        if (code == known_code and (known_locator is None or known_locator == locator.lower())
                and (prefix is None or english.startswith(prefix))):
            return zh.format(locator=locator or "-")
    return "请求无法处理"


def bilingual_report(content: bytes) -> tuple[int, bytes] | None:
    """For a pycsw ExceptionReport (OWS 1.0 or 2.0): the HTTP status it means
    and the report with every ExceptionText as "中文 / English". None for
    any other answer."""
    if b"ExceptionReport" not in content[:2000]:
        return None
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if etree.QName(root).localname != "ExceptionReport":
        return None
    status = 400
    for exception in root:
        if not isinstance(exception.tag, str):
            continue
        code, locator = exception.get("exceptionCode", ""), exception.get("locator", "")
        if code == "NotFound":
            status = 404
        for text in exception:
            english = " ".join((text.text or "").split())
            text.text = f"{chinese_for(code, locator, english)} / {english}"
    return status, etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def exception_report(problem: Problem) -> bytes:
    """A gateway error as an OWS 1.0 ExceptionReport (what CSW 2.0.2 clients read)."""
    root = etree.Element(f"{{{OWS}}}ExceptionReport", nsmap={"ows": OWS}, version="1.2.0", language="zh-CN")
    exception = etree.SubElement(root, f"{{{OWS}}}Exception", exceptionCode=problem.code)
    if problem.field:
        exception.set("locator", problem.field)
    etree.SubElement(exception, f"{{{OWS}}}ExceptionText").text = f"{problem.zh} / {problem.en}"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
