"""The catalogue's plain functions: directory, records, ISO 19139, pycsw
configuration, CSW request classification and exception reports, the
Records provider's query building."""

import configparser
from datetime import UTC, datetime

import pytest
from lxml import etree
from owslib.iso import MD_Metadata
from pygeoapi.provider.base import ProviderInvalidQueryError

from catalogue.config import PycswInstance, pycsw_config, repository_url, stack_instances
from catalogue.directory import CatalogueError, load_directory, parse_directory
from catalogue.iso import to_iso19139
from catalogue.operations import bilingual_report, exception_report, operation_of
from catalogue.records import CatalogueConfig, PartnerLayer, catalogue_records
from onemap.core.errors import OneMapError, Problem
from onemap.core.registry import load_layers
from onemap.core.settings import ROOT, Settings, load_yaml
from onemap.ogc.records import RecordQuery, parse_datetime, record_feature, where_clause

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def config():
    return CatalogueConfig.load(load_yaml(ROOT / "config" / "gateway.yaml"))


@pytest.fixture(scope="module")
def records(config):
    layers = load_layers()
    extents = {layer.id: {"spatial": {"bbox": [111.5, 27.9, 113.1, 29.5]}} for layer in layers}
    extents["GHYDYH"]["temporal"] = {"begin": datetime(2021, 6, 1, tzinfo=UTC), "end": None}
    return {r.identifier: r for r in catalogue_records(layers, load_directory(), extents, config,
                                                      "https://onemap.example", NOW)}


def test_the_directory_is_the_full_4_29_369_and_holds_every_layer():
    directory = load_directory()
    assert directory.counts() == (4, 29, 369)
    assert [c.name.zh for c in directory.classes if c.level == 1] == ["基础现状数据", "规划成果数据",
                                                                      "规划实施数据", "规划监督数据"]
    for cls in directory.classes:
        if cls.parent_code:
            assert cls.code.startswith(cls.parent_code) and len(cls.code) == len(cls.parent_code) + 2
    # every small class has a source, a purpose, an update mechanism and a department, in both languages
    small = [c for c in directory.classes if c.level == 3]
    for cls in small:
        for fact in ("source", "purpose", "update", "department"):
            text = cls.fact(fact)
            assert text and text.zh and text.en, (cls.code, fact)
    # every layer has its class; the classes without a layer are the ones 暂无数据
    layers = load_layers()
    for layer in layers:
        assert directory.class_of(layer).path == layer.directory
    assert directory.with_data(layers) == {directory.class_of(layer).code for layer in layers}
    # names a planner recognises, across the four top classes
    names = {c.path for c in directory.classes}
    for path in [("基础现状数据", "国土调查", "地类图斑"), ("基础现状数据", "自然资源监测", "卫星遥感监测图斑"),
                 ("规划成果数据", "总体规划", "乡镇国土空间总体规划"), ("规划成果数据", "专项规划", "综合交通"),
                 ("规划成果数据", "详细规划", "控规地块规划条件"), ("规划实施数据", "规划许可", "建设工程规划许可证"),
                 ("规划实施数据", "土地供应", "批而未供土地"), ("规划监督数据", "监测预警", "预警信息"),
                 ("规划监督数据", "执法督察", "违法用地"), ("规划监督数据", "公众监督", "意见征询")]:
        assert path in names, path


def test_records_of_small_classes_say_their_facts_and_whether_they_hold_data(records, config):
    prefix = config.identifier_prefix + ".dir."
    held = records[prefix + "010401"]          # 地类图斑: DLTB
    empty = records[prefix + "010402"]         # 城镇村及工矿用地: no layer
    assert held.status == "onGoing" and "暂无数据" not in held.abstract.zh and not held.online
    assert "第三次全国国土调查" in held.abstract.zh and "调查监测科" in held.abstract.zh
    assert held.purpose.zh and held.maintenance_note.zh and held.lineage.zh
    assert empty.status == "planned" and "暂无数据" in empty.abstract.zh and "暂无数据" in empty.keywords_zh
    assert "no data yet" in empty.abstract.en.lower() and not empty.online
    series = [r for r in records.values() if r.scope == "series"]
    assert len(series) == 4 + 29 + 369
    assert sum(r.status == "planned" for r in series) == 369 - len(load_directory().with_data(load_layers()))
    md = MD_Metadata(etree.fromstring(to_iso19139(empty)))
    assert md.identification[0].status == "planned"
    assert md.identification[0].purpose


def test_a_small_class_without_its_facts_is_refused():
    entry = {"code": "01", "name": {"zh": "甲", "en": "A"}, "children": [
        {"code": "0101", "name": {"zh": "乙", "en": "B"}, "source": {"zh": "来", "en": "S"},
         "children": [{"code": "010101", "name": {"zh": "丙", "en": "C"}}]}]}
    with pytest.raises(CatalogueError, match="缺少用途、更新机制、责任部门") as exc:
        parse_directory({"directory": [entry]})
    assert "lacks purpose, update, department" in exc.value.en


@pytest.mark.parametrize("entry, message", [
    ({"code": "1", "name": {"zh": "甲", "en": "A"}}, "2 digits"),
    ({"code": "01", "name": {"zh": "甲"}}, "without code or name"),
    ({"code": "01", "name": {"zh": "甲", "en": "A"}, "children": [{"code": "0201", "name": {"zh": "乙", "en": "B"}}]},
     "starting with its parent's code"),
])
def test_a_bad_directory_is_refused_in_both_languages(entry, message):
    with pytest.raises(CatalogueError) as info:
        parse_directory({"directory": [entry]})
    assert message in info.value.en and info.value.zh


def test_duplicate_codes_are_refused():
    with pytest.raises(CatalogueError, match="duplicate directory class code"):
        parse_directory({"directory": [{"code": "01", "name": {"zh": "甲", "en": "A"}},
                                       {"code": "01", "name": {"zh": "乙", "en": "B"}}]})


def test_a_layer_outside_the_directory_is_named(config):
    layer = next(layer for layer in load_layers() if layer.id == "GHYDYH")
    directory = parse_directory({"directory": [{"code": "01", "name": {"zh": "基础现状数据", "en": "Base"}}]})
    with pytest.raises(CatalogueError) as info:
        directory.class_of(layer)
    assert "GHYDYH" in info.value.zh and "规划成果数据" in info.value.zh


def test_records_of_layers_and_classes(records, config):
    layer = records["cn.gov.yiyang.onemap.layer.STBHHX"]
    assert layer.scope == "dataset" and layer.classification == "restricted" and not layer.is_public
    assert layer.parent == "cn.gov.yiyang.onemap.dir.020201"
    assert records[layer.parent].parent == "cn.gov.yiyang.onemap.dir.0202"
    assert records["cn.gov.yiyang.onemap.dir.0202"].parent == "cn.gov.yiyang.onemap.dir.02"
    assert records["cn.gov.yiyang.onemap.dir.02"].parent is None
    assert all(r.is_public for r in records.values() if r.scope == "series")
    public_layers = {r.identifier.rsplit(".", 1)[1] for r in records.values() if r.scope == "dataset" and r.is_public}
    assert public_layers == {layer.id for layer in load_layers() if layer.is_public}
    assert [o.url for o in records["cn.gov.yiyang.onemap.layer.XZQ"].online] == [
        "https://onemap.example/ogc/collections/XZQ", "https://onemap.example/mapproxy/service",
        "https://onemap.example/mapproxy/wmts/1.0.0/WMTSCapabilities.xml"]


def test_iso19139_parses_with_owslib_and_carries_everything(records):
    xml = to_iso19139(records["cn.gov.yiyang.onemap.layer.GHYDYH"])
    md = MD_Metadata(etree.fromstring(xml))
    ident = md.identification[0]
    assert md.identifier == "cn.gov.yiyang.onemap.layer.GHYDYH"
    assert md.parentidentifier == "cn.gov.yiyang.onemap.dir.020101"
    assert md.hierarchy == "dataset" and md.languagecode == "chi"
    assert md.referencesystem.code == "4490"
    assert ident.title == "规划用地用海" and ident.alternatetitle == "Planned land and sea use"
    assert ident.abstract.startswith("国土空间总体规划")
    assert ident.securityconstraints == ["unclassified"]
    assert ident.topiccategory == ["planningCadastre"]
    assert "国土空间规划" in ident.keywords[0].keywords[0].name
    assert (float(ident.bbox.minx), float(ident.bbox.maxy)) == (111.5, 29.5)
    assert ident.temporalextent_start.startswith("2021-06-01") and ident.temporalextent_end is None
    assert [(o.protocol, o.name) for o in md.distribution.online] == [
        ("OGC:API-Features", "GHYDYH"), ("OGC:WMS", "GHYDYH"), ("OGC:WMTS", "GHYDYH")]
    assert md.dataquality.lineage.startswith("国土空间总体规划数据库")
    english = etree.fromstring(xml).xpath("//gmd:abstract//gmd:LocalisedCharacterString/text()",
                                          namespaces={"gmd": "http://www.isotc211.org/2005/gmd"})
    assert english == ["Planned land and sea use of the territorial spatial master plan, by plan version and validity."]


def test_every_indicator_system_is_an_internal_record_under_monitoring_indicators(config):
    systems = load_yaml(ROOT / "config" / "indicators" / "systems.yaml")["systems"]
    found = [r for r in catalogue_records(load_layers(), load_directory(), {layer.id: {"spatial": {"bbox": [0, 0, 1, 1]}}
                                                                            for layer in load_layers()},
                                          config, "https://onemap.example", NOW, systems)
             if r.scope == "nonGeographicDataset"]
    assert [r.identifier for r in found] == [f"cn.gov.yiyang.onemap.indicators.{s['id']}" for s in systems]
    guide = MD_Metadata(etree.fromstring(to_iso19139(found[0])))
    assert guide.parentidentifier == "cn.gov.yiyang.onemap.dir.040101"  # 规划监督数据 › 指标监测 › 监测指标
    assert guide.hierarchy == "nonGeographicDataset"
    assert guide.identification[0].title == systems[0]["name"]["zh"]
    assert guide.identification[0].securityconstraints == ["restricted"] and not found[0].is_public
    assert "ZB35" in guide.identification[0].abstract  # the members, by group
    assert [(o.protocol, o.name) for o in guide.distribution.online] == [
        ("OGC:API-Features", "ZBJC"), ("OGC:API-Processes", "implementation-evaluation")]


def test_pycsw_configurations_filter_the_public_one_and_lock_transactions(config):
    settings = Settings.from_env({"ONEMAP_VAR": "/tmp/x", "ONEMAP_PORT": "8123"})
    instances = {i.name: i for i in stack_instances(settings)}
    assert set(instances) == {"public", "internal"}
    parsed = {}
    for name, instance in instances.items():
        cfg = configparser.ConfigParser()  # pycsw reads it with interpolation
        cfg.read_string(pycsw_config(instance, "postgresql://u:p%40ss@h:5/db", config))
        parsed[name] = cfg
    public, internal = parsed["public"], parsed["internal"]
    assert public.get("repository", "filter") == "securityconstraints = 'unclassified'"
    assert not internal.has_option("repository", "filter")
    assert (public.get("manager", "transactions"), internal.get("manager", "transactions")) == ("false", "true")
    assert internal.get("manager", "allowed_ips") == "127.0.0.1"
    assert internal.get("repository", "database") == repository_url("postgresql://u:p%40ss@h:5/db", "catalogue")
    assert "search_path%3Dcatalogue%2Cpublic" in internal.get("repository", "database")
    assert public.get("server", "url") == "http://127.0.0.1:8123/csw"
    assert public.get("metadata:main", "identification_title").startswith("益阳市")
    assert "Yiyang" in public.get("metadata:main", "identification_title")


def test_provincial_style_instance_has_no_filter(config):
    instance = PycswInstance("province", "http://h/province/csw", "province", None, True)
    cfg = configparser.ConfigParser()
    cfg.read_string(pycsw_config(instance, "postgresql://u@h/db", config))
    assert cfg.get("onemap", "schema") == "province" and not cfg.has_option("repository", "filter")


CSW = "http://www.opengis.net/cat/csw/2.0.2"


@pytest.mark.parametrize("method, args, body, name, manages", [
    ("GET", {"REQUEST": "GetRecords"}, b"", "GetRecords", False),
    ("GET", {"request": "Harvest"}, b"", "Harvest", True),
    ("GET", {"request": "GetRecords", "ResponseHandler": "ftp://x"}, b"", "GetRecords", True),
    ("POST", {}, f'<csw:GetRecords xmlns:csw="{CSW}"/>'.encode(), "GetRecords", False),
    ("POST", {}, f'<csw:Transaction xmlns:csw="{CSW}"/>'.encode(), "Transaction", True),
    ("POST", {}, b'<csw:Harvest xmlns:csw="http://www.opengis.net/cat/csw/3.0"/>', "Harvest", True),
    ("POST", {}, f'<csw:GetRecords xmlns:csw="{CSW}"><csw:ResponseHandler>mailto:a@b</csw:ResponseHandler>'
                 f'</csw:GetRecords>'.encode(), "GetRecords", True),
    ("POST", {}, f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
                 f'<csw:Transaction xmlns:csw="{CSW}"/></s:Body></s:Envelope>'.encode(), "Transaction", True),
])
def test_operations_that_manage_the_catalogue_are_recognised(method, args, body, name, manages):
    operation = operation_of(method, args, body)
    assert (operation.name, operation.manages) == (name, manages)


@pytest.mark.parametrize("body", [b"", b"  ", b"<csw:GetRecords", b"not xml at all"])
def test_a_body_that_is_not_xml_is_a_400(body):
    with pytest.raises(OneMapError) as info:
        operation_of("POST", {}, body)
    problem = info.value.problem
    assert problem.status == 400 and problem.zh and problem.en and problem.field == "request"


def test_an_external_entity_is_never_resolved():
    operation = operation_of("POST", {}, b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    assert operation.name == "x" and not operation.manages


def test_pycsw_exception_reports_get_chinese_and_a_status():
    report = (b'<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows" version="1.2.0">'
              b'<ows:Exception exceptionCode="InvalidParameterValue" locator="request">'
              b'<ows:ExceptionText>Invalid value for request: Foo</ows:ExceptionText></ows:Exception>'
              b'</ows:ExceptionReport>')
    status, body = bilingual_report(report)
    text = etree.fromstring(body).findtext(".//{http://www.opengis.net/ows}ExceptionText")
    assert status == 400 and text == "不支持的操作（request 参数） / Invalid value for request: Foo"
    assert bilingual_report(b"<csw:GetRecordsResponse/>") is None


def test_gateway_errors_are_ows_exception_reports():
    body = exception_report(Problem(401, "Unauthorized", "需要令牌", "A token is needed", field="Authorization"))
    exception = etree.fromstring(body)[0]
    assert exception.get("exceptionCode") == "Unauthorized" and exception.get("locator") == "Authorization"
    assert exception[0].text == "需要令牌 / A token is needed"


@pytest.mark.parametrize("value, expected", [
    ("2021-06-01", ("2021-06-01", "2021-06-01")),
    ("2021-06-01T12:00:00Z", ("2021-06-01", "2021-06-01")),
    ("2020-01-01/..", ("2020-01-01", None)),
    ("../2020-01-01", (None, "2020-01-01")),
    ("/2020-01-01", (None, "2020-01-01")),
    (None, (None, None)),
])
def test_records_datetime(value, expected):
    assert parse_datetime(value) == expected


@pytest.mark.parametrize("value", ["garbage", "2021-13-01", "2022-01-01/2021-01-01", "a/b/c"])
def test_records_datetime_errors(value):
    with pytest.raises(ProviderInvalidQueryError):
        parse_datetime(value)


def test_records_query_sql():
    where, params = where_clause(RecordQuery(terms=("红线", "50%"), bbox=(112, 28, 113, 29),
                                             time_from="2021-01-01", equals=(("type", "dataset"),)),
                                 "securityconstraints = 'unclassified'")
    text = where.as_string(None)
    assert text.startswith("(securityconstraints = 'unclassified') AND (anytext ILIKE %s OR anytext ILIKE %s)")
    assert "time_end IS NULL" in text and '"type" = %s' in text
    assert params == ["%红线%", "%50\\%%", 112, 28, 113, 29, "2021-01-01", "dataset"]


def test_records_feature_from_a_repository_row():
    row = {"identifier": "a.layer.X", "type": "dataset", "title": "行政区", "title_alternate": "Divisions",
           "abstract": "摘要", "keywords": "行政区,boundary", "parentidentifier": "a.dir.01", "topicategory": "boundaries",
           "date_modified": "2024-05-01", "time_begin": "2021-06-01T00:00:00+08:00", "time_end": None,
           "links": "X,OGC API 要素集合,OGC:API-Features,https://h/ogc/collections/X",
           "geometry": '{"type":"Polygon","coordinates":[[[1,2],[1,3],[2,3],[1,2]]]}'}
    feature = record_feature(row, "https://h/csw", "https://h/ogc/collections/catalogue/items")
    assert feature["time"] == {"interval": ["2021-06-01T00:00:00+08:00", ".."]}
    assert feature["properties"]["keywords"] == ["行政区", "boundary"]
    hrefs = {link["rel"]: link["href"] for link in feature["links"]}
    assert hrefs["service"] == "https://h/ogc/collections/X"
    assert hrefs["up"] == "https://h/ogc/collections/catalogue/items/a.dir.01"
    assert hrefs["alternate"].startswith("https://h/csw?service=CSW") and "id=a.layer.X" in hrefs["alternate"]


def test_a_partners_map_layer_is_a_record_of_theirs_read_only_filed_and_linked_to_our_maps(config):
    layer = PartnerLayer.from_entry({
        "id": "SJ_STBHHX", "partner": "province", "owner": {"zh": "省级平台", "en": "provincial platform"},
        "layer": "STBHHX", "title": {"zh": "生态保护红线（省级平台）", "en": "red line (provincial platform)"},
        "sensitivity": "internal", "directory": ["规划成果数据", "三条控制线", "生态保护红线"], "topic": "environment"})
    layers = load_layers()
    extents = {la.id: {"spatial": {"bbox": [111.5, 27.9, 113.1, 29.5]}} for la in layers}
    [record] = [r for r in catalogue_records(layers, load_directory(), extents, config, "https://onemap.example", NOW,
                                             partner_layers=[layer]) if ".partner." in r.identifier]
    [red_line] = [la for la in layers if la.id == "STBHHX"]  # ours: the same class
    assert record.identifier == "cn.gov.yiyang.onemap.partner.province.SJ_STBHHX" and not record.is_public
    iso = MD_Metadata(etree.fromstring(to_iso19139(record)))
    assert iso.parentidentifier == f"cn.gov.yiyang.onemap.dir.{load_directory().class_of(red_line).code}"
    ident = iso.identification[0]
    assert ident.securityconstraints == ["restricted"] and ident.topiccategory == ["environment"]
    assert "只读" in ident.abstract and "省级平台" in ident.otherconstraints[0]
    assert [(o.protocol, o.url, o.name) for o in iso.distribution.online] == [
        ("OGC:WMS", "https://onemap.example/mapproxy/service", "SJ_STBHHX"),
        ("OGC:WMTS", "https://onemap.example/mapproxy/wmts/1.0.0/WMTSCapabilities.xml", "SJ_STBHHX")]
    public = PartnerLayer(**{**layer.__dict__, "sensitivity": "public"})
    assert [r for r in catalogue_records(layers, load_directory(), extents, config, "https://onemap.example", NOW,
                                         partner_layers=[public]) if ".partner." in r.identifier][0].is_public
