"""The injection corpus: SQL injection, property names that would reach code
(the GeoServer CVE-2024-36401 class: Python, Java and OGNL expressions where a
property name belongs), XXE and billion laughs, sent through every place a
client writes a filter, a sort or a property name — CQL2 text and JSON,
queryable parameters, sortby, properties, CSW constraints (CQL and OGC Filter
XML, KVP and POST). None executes: a canary table and a canary file that a
successful payload would change stay as they were, PostgreSQL never sees a
payload, and every answer is a 200 or a bilingual 400, never a 500.

Uploads take GeoPackages and zipped shapefiles, not XML, so the XML payloads
go to the one XML entry point: CSW POST."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from onemap.core.settings import Settings

CANARY_TABLE = "public.injection_canary"
CANARY_FILE = Path("/tmp/onemap-injection-canary")
TOUCH = f"touch {CANARY_FILE}"

SQL = [
    "x'; DROP TABLE injection_canary; --",
    "x' OR '1'='1",
    "1; UPDATE injection_canary SET n = 666",
    "') OR 1=1; DELETE FROM injection_canary; --",
    "x' UNION SELECT n::text FROM injection_canary --",
    "$$; DROP TABLE injection_canary; $$",
]
CODE = [  # names of properties that would be evaluated by an expression engine
    f"__import__('os').system('{TOUCH}')",
    f"exec(\"import os; os.system('{TOUCH}')\")",
    f"eval('__import__(\\'os\\').system(\\'{TOUCH}\\')')",
    f"java.lang.Runtime.getRuntime().exec('{TOUCH}')",
    f"exec(java.lang.Runtime.getRuntime(),'{TOUCH}')",
    f"${{@java.lang.Runtime@getRuntime().exec('{TOUCH}')}}",
    "injection_canary; DROP TABLE injection_canary",
    "xzqmc\" FROM base.xzq; DROP TABLE injection_canary; --",
]


@pytest.fixture(scope="module", autouse=True)
def canary(db):
    CANARY_FILE.unlink(missing_ok=True)
    db.execute(f"DROP TABLE IF EXISTS {CANARY_TABLE}")
    db.execute(f"CREATE TABLE {CANARY_TABLE} (n integer)")
    db.execute(f"INSERT INTO {CANARY_TABLE} VALUES (42)")
    log = Settings.from_env().log_dir / "postgresql.log"
    start = log.stat().st_size if log.exists() else 0
    yield
    try:
        assert db.execute(f"SELECT array_agg(n) FROM {CANARY_TABLE}").fetchone()[0] == [42]
        assert not CANARY_FILE.exists(), "a payload ran a shell command"
        if log.exists():  # a payload that reached SQL would fail there, and be logged with its statement
            with log.open("rb") as f:
                f.seek(start)
                assert b"injection_canary" not in f.read()
    finally:
        db.execute(f"DROP TABLE IF EXISTS {CANARY_TABLE}")


def assert_refused_or_harmless(r: requests.Response) -> None:
    assert r.status_code in (200, 400), f"{r.status_code}: {r.text[:300]}"
    if r.status_code == 400:
        body = r.json()
        assert body["message_zh"] and body["message_en"] and body["message_zh"] != body["message_en"]
    else:  # a payload taken as a literal value matches nothing
        assert r.json()["numberMatched"] == 0


def items(ogc_url, **params) -> requests.Response:
    return requests.get(f"{ogc_url}/collections/XZQ/items", params={"f": "json", **params}, timeout=60)


@pytest.mark.parametrize("payload", SQL + CODE)
def test_cql2_text_literals_and_property_names(ogc_url, payload):
    literal = payload.replace("'", "''")
    assert_refused_or_harmless(items(ogc_url, filter=f"xzqmc = '{literal}'"))
    assert_refused_or_harmless(items(ogc_url, filter=f"{payload} = 1"))
    assert_refused_or_harmless(items(ogc_url, filter=f'"{payload}" = 1'))
    assert_refused_or_harmless(items(ogc_url, filter=payload))


@pytest.mark.parametrize("payload", SQL + CODE)
def test_cql2_json_literals_and_property_names(ogc_url, payload):
    for expression in ({"op": "=", "args": [{"property": "xzqmc"}, payload]},
                       {"op": "=", "args": [{"property": payload}, "x"]},
                       {"op": "like", "args": [{"property": payload}, "%"]},
                       {"op": payload, "args": [{"property": "xzqmc"}, "x"]}):
        r = requests.post(f"{ogc_url}/collections/XZQ/items", params={"f": "json"}, json=expression,
                          headers={"Content-Type": "application/query-cql-json"}, timeout=60)
        assert_refused_or_harmless(r)
        assert_refused_or_harmless(items(ogc_url, **{"filter-lang": "cql2-json"},
                                         filter=requests.compat.json.dumps(expression)))


@pytest.mark.parametrize("payload", SQL + CODE)
def test_sortby_properties_and_queryable_parameters(ogc_url, payload):
    for params in ({"sortby": payload}, {"sortby": f"-{payload}"}, {"properties": payload},
                   {"properties": f"xzqmc,{payload}"}, {"xzqmc": payload}):
        assert_refused_or_harmless(items(ogc_url, **params))
    r = requests.get(f"{ogc_url}/collections/catalogue/items", params={"f": "json", "sortby": payload,
                                                                     "q": payload}, timeout=60)
    assert_refused_or_harmless(r)


def csw_status(r: requests.Response) -> None:
    assert r.status_code in (200, 400), f"{r.status_code}: {r.text[:300]}"
    assert b"root:x:0:0" not in r.content  # no file read back (XXE)
    if r.status_code == 400:
        assert b"ExceptionReport" in r.content and "/" in r.text  # the bilingual report


@pytest.mark.parametrize("payload", SQL + CODE)
def test_csw_cql_constraints(base_url, payload):
    literal = payload.replace("'", "''")
    for constraint in (f"dc:title like '%{literal}%'", f"{payload} = 'x'", payload):
        csw_status(requests.get(f"{base_url}/csw", timeout=60, params={
            "service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
            "resulttype": "results", "elementsetname": "brief", "constraintlanguage": "CQL_TEXT",
            "constraint_language_version": "1.1.0", "constraint": constraint}))


def filter_request(property_name: str, literal: str, doctype: str = "") -> str:
    escape = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
    name, value = ("".join(escape.get(c, c) for c in s) for s in (property_name, literal))
    if doctype:
        value = literal  # an entity reference, as it is
    return (f'<?xml version="1.0"?>{doctype}'
            '<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
            'xmlns:ogc="http://www.opengis.net/ogc" service="CSW" version="2.0.2" resultType="results">'
            '<csw:Query typeNames="csw:Record"><csw:ElementSetName>brief</csw:ElementSetName>'
            '<csw:Constraint version="1.1.0"><ogc:Filter><ogc:PropertyIsLike wildCard="%" singleChar="_" '
            f'escapeChar="\\"><ogc:PropertyName>{name}</ogc:PropertyName><ogc:Literal>{value}</ogc:Literal>'
            '</ogc:PropertyIsLike></ogc:Filter></csw:Constraint></csw:Query></csw:GetRecords>')


def post_csw(base_url, body: str) -> requests.Response:
    return requests.post(f"{base_url}/csw", data=body.encode(), headers={"Content-Type": "application/xml"},
                         timeout=60)


@pytest.mark.parametrize("payload", SQL + CODE)
def test_csw_filter_xml(base_url, payload):
    csw_status(post_csw(base_url, filter_request("dc:title", f"%{payload}%")))
    csw_status(post_csw(base_url, filter_request(payload, "%x%")))


LAUGHS = "<!ENTITY lol0 \"lol\">" + "".join(
    f"<!ENTITY lol{i} \"{f'&lol{i - 1};' * 10}\">" for i in range(1, 10))


@pytest.mark.parametrize("doctype, literal", [
    ('<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
    ('<!DOCTYPE r [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>', "x"),
    (f"<!DOCTYPE r [{LAUGHS}]>", "&lol9;"),
], ids=["xxe-file", "xxe-parameter-entity", "billion-laughs"])
def test_csw_post_refuses_external_entities_and_entity_bombs(base_url, doctype, literal):
    r = post_csw(base_url, filter_request("dc:title", literal, doctype))
    csw_status(r)
    assert r.status_code == 400 or b"numberOfRecordsMatched=\"0\"" in r.content
