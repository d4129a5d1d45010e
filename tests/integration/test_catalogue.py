"""The catalogue through the gateway, with real clients: OWSLib's CSW client
and ISO parser, a second pycsw harvesting us, requests for OAI-PMH,
OpenSearch, OGC API Records and the errors."""

import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
import yaml
from lxml import etree
from owslib.csw import CatalogueServiceWeb
from owslib.fes import BBox, PropertyIsEqualTo, PropertyIsLike
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService

from catalogue import service
from catalogue.config import PycswInstance, write_config
from catalogue.directory import DIRECTORY_FILE, CatalogueError, load_directory
from catalogue.iso import to_iso19139
from catalogue.records import CatalogueConfig, Contact, MetadataRecord
from onemap.core import db as onemap_db
from onemap.core.daemon import stop_pid
from onemap.core.registry import Text
from onemap.core.settings import Settings, load_yaml
from onemap.stack import free_port
from tests.conftest import auth

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

GMD = "http://www.isotc211.org/2005/gmd"
OWS = "{http://www.opengis.net/ows}"
CSW_202 = "http://www.opengis.net/cat/csw/2.0.2"


@pytest.fixture(scope="module")
def settings():
    return Settings.from_env()


@pytest.fixture(scope="module")
def csw_url(base_url):
    return f"{base_url}/csw"


@pytest.fixture(scope="module")
def config(settings):
    return CatalogueConfig.load(settings.gateway)


@pytest.fixture(scope="module")
def ids(config, layers, settings):
    """The identifiers `publish` owns, by visibility."""
    directory = {config.directory_identifier(c) for c in load_directory().classes}
    return {
        "directory": directory,
        "public_layers": {config.layer_identifier(x) for x in layers if x.is_public},
        "internal_layers": {config.layer_identifier(x) for x in layers if not x.is_public},
        # the evaluation results (config/evaluation/layers.yaml): internal datasets over the city
        "evaluation_results": {f"{config.identifier_prefix}.evaluation.{x['id']}"
                               for x in load_yaml(settings.config_dir / "evaluation" / "layers.yaml")["layers"]},
        # 指标体系 (config/indicators/systems.yaml), internal like their values
        "indicator_systems": {f"{config.identifier_prefix}.indicators.{s['id']}"
                              for s in load_yaml(settings.config_dir / "indicators" / "systems.yaml")["systems"]},
    }


def classes_saying(config, *words: str) -> set[str]:
    """The directory records whose text says one of the words: in a name on
    the class's path (its title and keywords) or in its facts (abstract)."""
    found = set()
    for cls in load_directory().classes:
        text = " ".join([*cls.path, *(t.zh for _, t in cls.facts if cls.level == 3)])
        if any(word in text for word in words):
            found.add(config.directory_identifier(cls))
    return found


def identifiers(url, token=None, **query):
    """Every record identifier a CSW GetRecords returns, page by page (OWSLib)."""
    csw = CatalogueServiceWeb(url, headers=auth(token), timeout=60)
    found, start = set(), 1
    while True:
        csw.getrecords2(esn="brief", startposition=start, maxrecords=100, **query)
        found |= set(csw.records)
        following = csw.results["nextrecord"]
        if not following or following > csw.results["matches"]:
            return found
        start = following


def report_text(response):
    root = etree.fromstring(response.content)
    assert root.tag.endswith("ExceptionReport"), response.text[:300]
    return root.find(f"{OWS}Exception"), root.findtext(f".//{OWS}ExceptionText")


# --- CSW: capabilities, search, ISO ------------------------------------------

@pytest.mark.parametrize("version", ["2.0.2", "3.0.0"])
def test_capabilities_in_chinese_and_english(csw_url, version):
    csw = CatalogueServiceWeb(csw_url, version=version, timeout=60)
    assert csw.identification.title == '益阳市国土空间规划"一张图"数据目录服务 / Yiyang One Map data catalogue'
    assert csw.version == version
    assert {"GetCapabilities", "GetRecords", "GetRecordById"} <= {op.name for op in csw.operations}
    if version == "2.0.2":  # what harvesters look for to ask for ISO 19139
        assert GMD in csw.get_operation_by_name("GetRecords").parameters["outputSchema"]["values"]
    assert "Transaction" not in {op.name for op in csw.operations}  # the public configuration


def test_getrecords_by_keyword_sees_public_records_only(csw_url, tokens, ids, config):
    query = {"constraints": [PropertyIsLike("dc:subject", "%三条控制线%")]}
    control_lines = {config.directory_identifier(c) for c in load_directory().classes if "三条控制线" in c.path}
    assert {config.identifier_prefix + ".dir." + code for code in ("0202", "020201", "020202", "020203")} <= control_lines
    layers = {config.identifier_prefix + ".layer." + x for x in ("STBHHX", "YJJBNT", "CZKFBJ")}
    assert identifiers(csw_url, **query) == control_lines
    assert identifiers(csw_url, tokens["egov"], **query) == control_lines
    assert identifiers(csw_url, tokens["staff"], **query) == control_lines | layers


def test_getrecords_full_text_finds_chinese_substrings_and_english(csw_url, config):
    found = identifiers(csw_url, constraints=[PropertyIsLike("csw:AnyText", "%历史文化%")])
    assert config.identifier_prefix + ".layer.LSWHBHX" in found
    assert identifiers(csw_url, constraints=[PropertyIsLike("csw:AnyText", "%heritage%")]) >= {
        config.identifier_prefix + ".layer.LSWHBHX"}


def test_getrecords_by_type(csw_url, tokens, ids):
    datasets = [PropertyIsEqualTo("dc:type", "dataset")]
    assert identifiers(csw_url, constraints=datasets) == ids["public_layers"]
    assert identifiers(csw_url, tokens["admin"], constraints=datasets) == (ids["public_layers"] | ids["internal_layers"]
                                                                           | ids["evaluation_results"])
    assert identifiers(csw_url, constraints=[PropertyIsEqualTo("dc:type", "series")]) == ids["directory"]


def test_getrecords_by_bbox(csw_url, tokens, ids, database_url, layers):
    west, south, east, north = onemap_db.layer_extents(database_url, layers)["XZQ"]["spatial"]["bbox"]
    city = [BBox([south, west, north, east])]  # CSW's EPSG:4326: latitude first
    assert identifiers(csw_url, constraints=city) == ids["public_layers"]
    assert identifiers(csw_url, tokens["staff"], constraints=city) == (ids["public_layers"] | ids["internal_layers"]
                                                                       | ids["evaluation_results"])
    assert identifiers(csw_url, constraints=[BBox([-40.0, 10.0, -39.0, 11.0])]) == set()


def test_iso_records_parse_and_carry_the_online_resources(csw_url, base_url, database_url, layers, config, settings):
    # published again, as after a data load: the parallel phase changed
    # data (an approved comment is the comments layer's extent)
    service.publish(settings, database_url, print)
    extents = onemap_db.layer_extents(database_url, layers)
    csw = CatalogueServiceWeb(csw_url, timeout=60)
    csw.getrecords2(constraints=[PropertyIsEqualTo("dc:type", "dataset")], outputschema=GMD, esn="full",
                    maxrecords=100)
    assert csw.records and all(r.__class__.__name__ == "MD_Metadata" for r in csw.records.values())
    for layer in (x for x in layers if x.is_public):
        md = csw.records[config.layer_identifier(layer)]
        ident = md.identification[0]
        assert ident.title == layer.title.zh and ident.alternatetitle == layer.title.en
        assert md.parentidentifier == config.identifier_prefix + ".dir." + load_directory().class_of(layer).code
        assert md.referencesystem.code == "4490" and ident.securityconstraints == ["unclassified"]
        assert [(o.protocol, o.name, o.url) for o in md.distribution.online] == [
            ("OGC:API-Features", layer.id, f"{base_url}/ogc/collections/{layer.id}"),
            ("OGC:WMS", layer.id, f"{base_url}/mapproxy/service"),
            ("OGC:WMTS", layer.id, f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml")]
        bbox = extents[layer.id]["spatial"]["bbox"]
        assert [float(ident.bbox.minx), float(ident.bbox.miny), float(ident.bbox.maxx),
                float(ident.bbox.maxy)] == pytest.approx(bbox, abs=1e-6)
        if layer.versioned:
            begin = extents[layer.id]["temporal"]["begin"]
            assert datetime.fromisoformat(ident.temporalextent_start) == begin
    # the online resources lead to the layer: the collection answers, the map services list it by name
    online = {o.protocol: o for o in csw.records[config.layer_identifier(layers[0])].distribution.online}
    assert requests.get(online["OGC:API-Features"].url, params={"f": "json"}, timeout=30).status_code == 200
    wms = WebMapService(online["OGC:WMS"].url, version="1.3.0", timeout=60)
    wmts = WebMapTileService(online["OGC:WMTS"].url, timeout=60)
    for layer in (x for x in layers if x.is_public):
        assert layer.id in wms.contents and layer.id in wmts.contents


def test_an_internal_record_is_not_given_to_anonymous_or_egov(csw_url, tokens, config):
    identifier = config.identifier_prefix + ".layer.STBHHX"
    for token, visible in ((None, False), (tokens["egov"], False), (tokens["staff"], True)):
        csw = CatalogueServiceWeb(csw_url, headers=auth(token), timeout=60)
        csw.getrecordbyid([identifier], outputschema=GMD, esn="full")
        assert (identifier in csw.records) is visible


def test_csw_30_keyword_search(csw_url, config):
    r = requests.get(csw_url, timeout=30, params={"service": "CSW", "version": "3.0.0", "request": "GetRecords",
                                                  "typenames": "csw:Record", "elementsetname": "brief",
                                                  "q": "生态保护红线"})
    root = etree.fromstring(r.content)
    assert r.status_code == 200 and root.tag == "{http://www.opengis.net/cat/csw/3.0}GetRecordsResponse"
    found = root.xpath("//dc:identifier/text()", namespaces={"dc": "http://purl.org/dc/elements/1.1/"})
    # the directory's classes that say it (生态保护红线, …调整, …预警); the layer record itself is internal
    assert set(found) == classes_saying(config, "生态保护红线") and "cn.gov.yiyang.onemap.dir.020201" in found


def test_oaipmh_lists_public_records_with_their_own_identifiers(csw_url, ids):
    r = requests.get(f"{csw_url}/oaipmh", params={"verb": "Identify"}, timeout=30)
    assert r.status_code == 200 and "益阳市" in r.text
    found, params = [], {"verb": "ListIdentifiers", "metadataPrefix": "iso19139"}
    while True:
        root = etree.fromstring(requests.get(f"{csw_url}/oaipmh", params=params, timeout=30).content)
        oai = {"oai": "http://www.openarchives.org/OAI/2.0/"}
        found += root.xpath("//oai:header/oai:identifier/text()", namespaces=oai)
        token = root.xpath("//oai:resumptionToken/text()", namespaces=oai)
        if not token or int(token[0]) > len(ids["directory"] | ids["public_layers"]):
            break
        params = {"verb": "ListIdentifiers", "resumptionToken": token[0], "metadataPrefix": "iso19139"}
    assert len(found) == len(set(found))
    assert set(found) >= ids["public_layers"] and not set(found) & ids["internal_layers"]


def test_opensearch_description_and_search(csw_url):
    description = requests.get(f"{csw_url}/opensearch", timeout=30)
    assert description.status_code == 200 and b"OpenSearchDescription" in description.content
    feed = requests.get(f"{csw_url}/opensearch", timeout=30, params={
        "service": "CSW", "version": "3.0.0", "request": "GetRecords", "typenames": "csw:Record",
        "elementsetname": "full", "q": "地质灾害"})
    entries = etree.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") for e in entries]
    assert "地质灾害隐患点" in titles


# --- CSW-T and Harvest need an admin token ----------------------------------

def _test_record(identifier: str) -> bytes:
    contact = Contact(Text("测试", "Test"), "t@example.org", "https://example.org", Text("益阳", "Yiyang"),
                      Text("中国", "China"))
    return to_iso19139(MetadataRecord(
        identifier=identifier, parent=None, scope="dataset", scope_name=Text("图层", "layer"),
        title=Text("测试记录", "Test record"), abstract=Text("事务测试", "transaction test"),
        keywords_zh=("测试",), keywords_en=("test",), topic="boundaries", classification="unclassified",
        access=Text("公开", "public"), frequency="asNeeded", lineage=None, contact=contact,
        datestamp=datetime(2024, 1, 1, tzinfo=UTC), bbox=(112.0, 28.0, 112.1, 28.1)))


def test_transaction_without_a_token_is_401_and_with_a_non_admin_token_403(csw_url, tokens, db):
    body = (f'<csw:Transaction xmlns:csw="{CSW_202}" service="CSW" version="2.0.2"><csw:Insert>'
            ).encode() + _test_record("pytest.cswt.denied").split(b"?>", 1)[1] + b"</csw:Insert></csw:Transaction>"
    r = requests.post(csw_url, data=body, headers={"Content-Type": "application/xml"}, timeout=30)
    exception, text = report_text(r)
    assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]
    assert "访问令牌" in text and "access token" in text and exception.get("locator") == "Authorization"
    for role in ("staff", "egov"):
        r = requests.post(csw_url, data=body, timeout=30, headers={**auth(tokens[role]),
                                                                   "Content-Type": "application/xml"})
        exception, text = report_text(r)
        assert r.status_code == 403 and role in text and "admin" in text
    r = requests.get(csw_url, timeout=30, params={"service": "CSW", "version": "2.0.2", "request": "Harvest",
                                                  "source": "http://127.0.0.1:9/csw",
                                                  "resourcetype": CSW_202})
    assert r.status_code == 401
    audit = db.execute("SELECT action, status FROM ops.audit WHERE target = '/csw' ORDER BY id DESC LIMIT 4").fetchall()
    assert audit == [("GET", 401), ("POST", 403), ("POST", 403), ("POST", 401)]
    assert not identifiers(csw_url, tokens["admin"], constraints=[PropertyIsEqualTo("dc:identifier",
                                                                                    "pytest.cswt.denied")])


def test_an_admin_inserts_and_deletes_a_record(csw_url, tokens, db):
    identifier = f"pytest.cswt.{uuid.uuid4().hex[:8]}"
    last = db.execute("SELECT max(id) FROM ops.audit").fetchone()[0]
    admin = CatalogueServiceWeb(csw_url, headers=auth(tokens["admin"]), timeout=60)
    assert "Transaction" in {op.name for op in admin.operations}
    try:
        admin.transaction(ttype="insert", typename="gmd:MD_Metadata", record=_test_record(identifier))
        assert admin.results["insertresults"] == [identifier]
        assert identifier in identifiers(csw_url, constraints=[PropertyIsEqualTo("dc:identifier", identifier)])
    finally:
        admin.transaction(ttype="delete", typename="csw:Record", cql=f"dc:identifier = '{identifier}'")
    summary = etree.fromstring(admin.response).find(f"{{{CSW_202}}}TransactionSummary")
    assert summary.findtext(f"{{{CSW_202}}}totalDeleted") == "1"
    assert not identifiers(csw_url, constraints=[PropertyIsEqualTo("dc:identifier", identifier)])
    assert db.execute("SELECT action, status FROM ops.audit WHERE target = '/csw' AND role = 'admin' AND id > %s "
                      "ORDER BY id", (last,)).fetchall() == [("POST", 200), ("POST", 200)]  # insert, delete


def test_a_role_made_by_an_operator_to_administer_the_catalogue_runs_transactions(base_url, csw_url, tokens):
    """CSW Transaction follows the permission data, not a fixed role list."""
    admin = auth(tokens["admin"])
    role, user = f"cataloguer-{uuid.uuid4().hex[:6]}", f"cat{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base_url}/admin/roles", headers=admin, timeout=30, json={
        "name": role, "zh": "目录管理员", "en": "cataloguer", "reads": ["public"],
        "administers": ["catalogue"]}).status_code == 201
    assert requests.post(f"{base_url}/admin/users", headers=admin, timeout=30, json={
        "name": user, "password": "Cataloguer-1x", "roles": [role]}).status_code == 201
    token = requests.post(f"{base_url}/admin/tokens", headers=admin, timeout=30,
                          json={"account": user, "name": "csw-t"}).json()["token"]
    identifier = f"pytest.cswt.{uuid.uuid4().hex[:8]}"
    cataloguer = CatalogueServiceWeb(csw_url, headers=auth(token), timeout=60)
    cataloguer.transaction(ttype="insert", typename="gmd:MD_Metadata", record=_test_record(identifier))
    assert cataloguer.results["insertresults"] == [identifier]
    cataloguer.transaction(ttype="delete", typename="csw:Record", cql=f"dc:identifier = '{identifier}'")
    assert not identifiers(csw_url, constraints=[PropertyIsEqualTo("dc:identifier", identifier)])


# --- the provincial platform harvests us ------------------------------------

@pytest.fixture(scope="module")
def province(settings, database_url, config, db):
    """A second pycsw: own configuration, own repository schema, own process."""
    port, home = free_port(), settings.var_dir / "province"
    instance = PycswInstance(name="province", url=f"http://127.0.0.1:{port}/province/csw",
                             schema="province_catalogue", repo_filter=None, transactions=True)
    cfg = write_config(home / "configs", instance, database_url, config)
    assert service.run_repository("setup", cfg).returncode == 0
    service.serve(home / "configs", port, home / "province.pid", home, "/province/csw")
    yield instance.url
    stop_pid(home / "province.pid")
    db.execute("DROP SCHEMA province_catalogue CASCADE")


def publish_cli(settings, directory_file):
    return subprocess.run([sys.executable, "-m", "onemap.cli", "catalogue", "publish", "--directory",
                           str(directory_file)], capture_output=True, text=True)


def test_the_full_directory_loads_and_the_province_harvests_every_public_record(
        province, csw_url, settings, config, ids, tokens):
    """The directory is the full 4/29/369; publishing it again changes
    nothing; the province harvests every public record, and the classes
    without data say 暂无数据."""
    out = publish_cli(settings, DIRECTORY_FILE)
    assert out.returncode == 0, out.stderr
    assert "4/29/369" in out.stdout and "暂无数据" in out.stdout
    public = identifiers(csw_url)
    assert len(public) == 4 + 29 + 369 + len(ids["public_layers"])
    assert not public & ids["internal_layers"]

    harvester = CatalogueServiceWeb(province, timeout=600)
    harvester.harvest(csw_url, CSW_202)
    harvested = identifiers(province)
    assert public <= harvested
    assert not harvested & ids["internal_layers"]
    assert len(harvested - public) == 1  # pycsw's record of our CSW service itself
    parents = CatalogueServiceWeb(province, timeout=60)
    held, empty = (config.identifier_prefix + ".dir." + code for code in ("010401", "010402"))
    parents.getrecordbyid([held, empty], outputschema=GMD, esn="full")
    assert parents.records[held].parentidentifier == config.identifier_prefix + ".dir.0104"
    assert parents.records[held].identification[0].status == "onGoing"
    assert parents.records[empty].identification[0].status == "planned"
    assert "暂无数据" in parents.records[empty].identification[0].abstract


# --- publishing ---------------------------------------------------------------

def test_records_of_a_layer_removed_from_the_registry_are_deleted(settings, database_url, tmp_path, csw_url,
                                                                  tokens, config):
    shutil.copytree(settings.config_dir, tmp_path, dirs_exist_ok=True)  # the configuration with one layer less
    registry = load_yaml(settings.config_dir / "layers.yaml")
    registry["layers"] = [x for x in registry["layers"] if x["id"] != "JSXM"]
    (tmp_path / "layers.yaml").write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    gone = config.identifier_prefix + ".layer.JSXM"
    try:
        counts = service.publish(replace(settings, config_dir=tmp_path), database_url, print)
        assert counts["deleted"] == 1
        assert gone not in identifiers(csw_url, tokens["staff"])
    finally:
        service.publish(settings, database_url, print)
    assert gone in identifiers(csw_url, tokens["staff"])


def test_a_record_pycsw_cannot_take_changes_nothing(settings, db, config):
    before = db.execute("SELECT count(*), max(insert_date) FROM catalogue.records").fetchone()
    records = {"pytest.load.good": _test_record("pytest.load.good"), "pytest.load.bad": b"<gmd:MD_Metadata"}
    with pytest.raises(CatalogueError) as info:
        service.load_records(settings.generated_dir / "pycsw" / "internal.cfg", "pytest.load.", records)
    assert "pytest.load.bad" in info.value.zh and "nothing was changed" in info.value.en
    assert db.execute("SELECT count(*), max(insert_date) FROM catalogue.records").fetchone() == before


def test_publish_with_a_directory_missing_a_layer_class_fails_in_both_languages(settings, tmp_path, db):
    before = db.execute("SELECT count(*) FROM catalogue.records").fetchone()
    broken = load_yaml(DIRECTORY_FILE)
    broken["directory"] = [top for top in broken["directory"] if top["name"]["zh"] != "规划实施数据"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    out = publish_cli(settings, path)
    assert out.returncode != 0
    assert "JSXM" in out.stderr and "数据目录" in out.stderr and "directory path" in out.stderr
    assert db.execute("SELECT count(*) FROM catalogue.records").fetchone() == before


# --- OGC API Records ------------------------------------------------------------

def records(ogc_url, token=None, **params):
    r = requests.get(f"{ogc_url}/collections/catalogue/items", params={"f": "json", "limit": 500, **params},
                     headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text
    return {f["id"] for f in r.json()["features"]}


def test_records_api_q_bbox_datetime(ogc_url, tokens, config, database_url, layers):
    p = config.identifier_prefix
    heritage = classes_saying(config, "历史文化")
    assert f"{p}.dir.020301" in heritage
    assert records(ogc_url, q="历史文化") == heritage | {f"{p}.layer.LSWHBHX"}
    assert records(ogc_url, q="历史文化,地质灾害隐患点") == heritage | classes_saying(config, "地质灾害隐患点") | {
        f"{p}.layer.LSWHBHX", f"{p}.layer.DZZHD"}
    assert f"{p}.layer.STBHHX" in records(ogc_url, tokens["staff"], q="红线")
    assert f"{p}.layer.STBHHX" not in records(ogc_url, q="红线")
    extents = onemap_db.layer_extents(database_url, layers)
    west, south, east, north = extents["XZQ"]["spatial"]["bbox"]
    assert records(ogc_url, bbox=f"{west},{south},{east},{north}") == {
        f"{p}.layer.{x.id}" for x in layers if x.is_public}
    assert records(ogc_url, bbox="-40,10,-39,11") == set()
    versioned = {f"{p}.layer.{x.id}" for x in layers if x.versioned}
    today = datetime.now(UTC).date()
    in_force = {f"{p}.layer.{layer_id}" for layer_id, extent in extents.items() if "temporal" in extent
                and extent["temporal"]["begin"].date() <= today
                and (extent["temporal"]["end"] is None or extent["temporal"]["end"].date() >= today)}
    assert in_force  # the demo city's plan is in force
    # layers without versions have no time
    assert records(ogc_url, tokens["staff"], datetime=today.isoformat()) == in_force
    assert records(ogc_url, tokens["staff"], datetime="1900-01-01/1901-01-01") == set()
    assert records(ogc_url, tokens["staff"], datetime="../1901-01-01") == set()
    assert records(ogc_url, datetime="2000-01-01/..") == versioned & {f"{p}.layer.{x.id}" for x in layers
                                                                      if x.is_public}


def test_records_api_item_and_access(ogc_url, tokens, config):
    internal = f"{ogc_url}/collections/catalogue/items/{config.identifier_prefix}.layer.DLTB"
    assert requests.get(internal, params={"f": "json"}, timeout=30).status_code == 404
    item = requests.get(internal, params={"f": "json"}, headers=auth(tokens["staff"]), timeout=30).json()
    assert item["properties"]["title"] == "地类图斑" and item["properties"]["title_en"] == "Current land use parcels"
    assert {link.get("title") for link in item["links"]} >= {"OGC:API-Features DLTB", "OGC:WMS DLTB"}


def test_records_api_bad_datetime_is_400_in_both_languages(ogc_url):
    r = requests.get(f"{ogc_url}/collections/catalogue/items", params={"f": "json", "datetime": "昨天"}, timeout=30)
    body = r.json()
    assert r.status_code == 400 and body["field"] == "datetime"
    assert body["message_zh"].startswith("datetime 参数无效") and "Invalid datetime" in body["message_en"]


# --- bad input, health --------------------------------------------------------------

@pytest.mark.parametrize("method, kwargs, code, locator, zh", [
    ("POST", {"data": b"<csw:GetRecords xmlns:csw='x'"}, "NoApplicableCode", "request", "不是格式正确的 XML"),
    ("POST", {"data": b""}, "MissingParameterValue", "request", "请求体为空"),
    ("POST", {"data": f'<csw:GetRecords xmlns:csw="{CSW_202}" service="CSW" version="2.0.2"><csw:Query '
                      f'typeNames="csw:Record"><csw:Bogus/></csw:Query></csw:GetRecords>'.encode()},
     "NoApplicableCode", "service", "不符合 CSW 的 XML 模式"),
    ("GET", {"params": {"service": "CSW", "version": "2.0.2", "request": "DeleteEverything"}},
     "InvalidParameterValue", "request", "不支持的操作"),
    ("GET", {"params": {"service": "WMS", "version": "2.0.2", "request": "GetRecords"}},
     "InvalidParameterValue", "service", "service 参数必须为 CSW"),
    ("GET", {"params": {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record"}},
     "MissingParameterValue", "elementsetname", "缺少必需的参数"),
])
def test_bad_csw_requests_are_4xx_in_both_languages(csw_url, method, kwargs, code, locator, zh):
    r = requests.request(method, csw_url, timeout=30, **kwargs)
    exception, text = report_text(r)
    assert r.status_code == 400
    assert (exception.get("exceptionCode"), exception.get("locator")) == (code, locator)
    chinese, english = text.split(" / ", 1)
    assert zh in chinese and english and english.isascii()


def test_healthz_reports_both_pycsw_configurations(base_url, ids):
    components = requests.get(f"{base_url}/healthz", timeout=30).json()["components"]
    public, internal = components["pycsw-public"], components["pycsw-internal"]
    assert public["status"] == internal["status"] == "up"
    public_count = len(ids["directory"] | ids["public_layers"])
    assert public["detail"] == f"CSW GetRecords -> {public_count} records"
    internal_count = (public_count + len(ids["internal_layers"]) + len(ids["indicator_systems"])
                      + len(ids["evaluation_results"]))
    assert internal["detail"] == f"CSW GetRecords -> {internal_count} records"
