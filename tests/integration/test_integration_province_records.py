"""The catalogue record of the province's map layer (SJ_STBHHX): published
with the province's WMS configured (a copy of the stack's configuration, as
an operator sets wms_url), filed under 生态保护红线, marked as the
province's and read-only, linking our WMS and WMTS; staff find it through
CSW (ISO 19139, read by OWSLib) and OGC API Records, anonymous callers and
the e-government role do not; not pushed back to the province; gone again
when the province's maps are no longer configured. Rewrites the catalogue:
serial."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import requests
from owslib.catalogue.csw2 import CatalogueServiceWeb

from catalogue import service
from catalogue.records import CatalogueConfig
from integration import province
from integration.config import IntegrationConfig
from onemap.core.settings import Settings
from tests.conftest import auth
from tests.integration.partners import configured_copy

pytestmark = pytest.mark.serial

GMD = "http://www.isotc211.org/2005/gmd"
SAY = logging.getLogger(__name__).info


@pytest.fixture(scope="module")
def record_id(tmp_path_factory, database_url):
    """The record's identifier, published while the province's WMS is configured."""
    settings = configured_copy(tmp_path_factory.mktemp("province-maps"), lambda partners: partners["province"].update(
        wms_url="http://127.0.0.1:9/wms?SERVICE=WMS&REQUEST=GetCapabilities"))  # not asked: the record is data
    prefix = CatalogueConfig.load(settings.gateway).identifier_prefix
    service.publish(settings, database_url, SAY)
    yield f"{prefix}.partner.province.SJ_STBHHX"
    service.publish(Settings.from_env(), database_url, SAY)


def test_staff_find_the_provinces_layer_record_anonymous_callers_do_not(record_id, base_url, ogc_url, tokens, db):
    csw = CatalogueServiceWeb(f"{base_url}/csw", headers=auth(tokens["staff"]), timeout=60)
    csw.getrecordbyid([record_id], outputschema=GMD, esn="full")
    iso = csw.records[record_id]
    ident = iso.identification[0]
    assert ident.title == "生态保护红线（省级平台）"
    assert "只读" in ident.abstract and "STBHHX" in ident.abstract
    assert "省级国土空间规划" in " ".join(ident.otherconstraints)
    parent = db.execute("SELECT title FROM catalogue.records WHERE identifier = %s",
                        (iso.parentidentifier,)).fetchone()[0]
    assert parent == "生态保护红线"
    links = {(link.protocol, link.url, link.name) for link in iso.distribution.online}
    assert links == {("OGC:WMS", f"{Settings.from_env().base_url}/mapproxy/service", "SJ_STBHHX"),
                     ("OGC:WMTS", f"{Settings.from_env().base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml",
                      "SJ_STBHHX")}
    item = f"{ogc_url}/collections/catalogue/items/{record_id}"
    assert requests.get(item, params={"f": "json"}, headers=auth(tokens["staff"]), timeout=30).status_code == 200

    for token in (None, tokens["egov"]):
        anonymous = CatalogueServiceWeb(f"{base_url}/csw", headers=auth(token) if token else None, timeout=60)
        anonymous.getrecordbyid([record_id], outputschema=GMD, esn="full")
        assert record_id not in anonymous.records
        assert requests.get(item, params={"f": "json"}, headers=auth(token) if token else {},
                            timeout=30).status_code == 404


def test_the_record_is_not_pushed_back_to_the_province(record_id, db):
    loaded = IntegrationConfig.load(Settings.from_env().config_dir)
    config = replace(loaded, partners={**loaded.partners, "province": {
        **loaded.partners["province"], "csw_url": "http://127.0.0.1:9/csw"}})
    with db.transaction(force_rollback=True):  # what a sync would queue, then not queued
        db.execute("DELETE FROM integration.province_record")  # as if nothing were pushed yet: all inserts
        assert province.sync(db, config)["csw-insert"] > 100
        keys = {row[0].split(":")[0] for row in db.execute(
            "SELECT idempotency_key FROM integration.outbox WHERE kind = 'csw-insert'")}
        assert f"{config.partners['province']['push_prefix']}layer.STBHHX" in keys and record_id not in keys
