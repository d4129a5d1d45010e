"""Integration pieces without a stack: the outbox's backoff, the callback
signature, config/integration.yaml."""

from __future__ import annotations

import random

import pytest

from integration.config import IntegrationConfig, OutboxSettings
from integration.outbox import backoff_seconds
from integration.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from onemap.core.settings import config_dir


def test_backoff_doubles_with_jitter_up_to_the_cap():
    settings = OutboxSettings(base_delay_seconds=1, max_delay_seconds=60)
    rand = random.Random(7)
    for attempts, ceiling in ((1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (30, 60)):
        waits = [backoff_seconds(attempts, settings, rand) for _ in range(200)]
        assert ceiling / 2 <= min(waits) and max(waits) <= ceiling, (attempts, min(waits), max(waits))
        assert len(set(waits)) > 100  # jittered: retries of many messages spread out


def test_a_signature_verifies_and_any_change_breaks_it():
    secret, body = b"s3cret", '{"jobID": "j1", "状态": "successful"}'.encode()
    headers = sign(secret, body, timestamp=1_764_750_000)
    assert headers[SIGNATURE_HEADER].startswith("sha256=") and headers[TIMESTAMP_HEADER] == "1764750000"
    assert verify(secret, body, headers, 300, now=1_764_750_100) is None
    assert verify(secret, body + b" ", headers, 300, now=1_764_750_100) == "bad signature"
    assert verify(b"other", body, headers, 300, now=1_764_750_100) == "bad signature"
    assert verify(secret, body, headers, 300, now=1_764_750_301) == "timestamp outside the replay window"
    moved = {**headers, TIMESTAMP_HEADER: "1764750001"}  # a replay with a fresh timestamp
    assert verify(secret, body, moved, 300, now=1_764_750_100) == "bad signature"
    assert verify(secret, body, {}, 300) == "no timestamp"


def test_the_shipped_configuration_loads_and_bad_settings_are_refused(tmp_path):
    config = IntegrationConfig.load(config_dir())
    assert "egov" in config.partners and config.outbox.max_attempts >= 1
    (tmp_path / "integration.yaml").write_text("outbox: {max_attempts: 0}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="max_attempts"):
        IntegrationConfig.load(tmp_path)
    (tmp_path / "integration.yaml").write_text("outbox: {retries: 3}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="retries"):
        IntegrationConfig.load(tmp_path)


def test_the_cloud_basemap_becomes_mapproxy_sources_caches_and_layers(tmp_path):
    from dataclasses import replace

    from integration.cloud import mapproxy_part, tile_url
    from onemap.core.settings import Settings

    assert tile_url({"url": "https://c.example/{layer}/{z}/{x}/{y}.png?tk={key}"}, "vec", "K1") == \
        "https://c.example/vec/%(z)s/%(x)s/%(y)s.png?tk=K1"
    settings = replace(Settings.from_env(), config_dir=tmp_path, var_dir=tmp_path)
    shipped = (config_dir() / "integration.yaml").read_text(encoding="utf-8")
    (tmp_path / "integration.yaml").write_text(shipped, encoding="utf-8")
    assert mapproxy_part(settings) == {}  # no URL: no cloud layers
    (tmp_path / "integration.yaml").write_text(shipped.replace(
        "    url: null                         # e.g.", '    url: "http://t.example/{layer}/{z}/{x}/{y}.png?k={key}" #'),
        encoding="utf-8")
    (tmp_path / "integration").mkdir()
    (tmp_path / "integration" / "cloud.key").write_text("secret-key\n", encoding="utf-8")
    part = mapproxy_part(settings)
    assert [layer["name"] for layer in part["layers"]] == ["CLOUD_VEC", "CLOUD_IMG"]
    assert part["caches"]["CLOUD_VEC_source"]["sources"] == ["cloud_vec", "cloud_cva"]  # annotation on top
    assert part["caches"]["CLOUD_VEC_cache"]["sources"] == ["CLOUD_VEC_source"]
    assert set(part["caches"]["CLOUD_IMG_cache"]["grids"]) == {"WebMercatorQuad", "CGCS2000"}
    source = part["sources"]["cloud_vec"]
    assert source["url"] == "http://t.example/vec/%(z)s/%(x)s/%(y)s.png?k=secret-key"
    assert source["on_error"]["other"] == {"response": "transparent", "cache": False}


def test_stand_ins_replace_only_the_endpoints_left_empty_and_a_set_url_wins(tmp_path):
    from dataclasses import replace

    from integration.standins import REPLACES, wanted, write_settings
    from onemap.core.settings import Settings

    shipped = (config_dir() / "integration.yaml").read_text(encoding="utf-8")
    (tmp_path / "integration.yaml").write_text(shipped, encoding="utf-8")
    assert wanted(tmp_path) == list(REPLACES)  # the shipped file: every partner stood in
    real_cloud = "https://cloud.example/{layer}/{z}/{x}/{y}.png?tk={key}"
    (tmp_path / "integration.yaml").write_text(shipped.replace(
        "    url: null                         # e.g.", f'    url: "{real_cloud}" #'), encoding="utf-8")
    assert wanted(tmp_path) == ["province-csw", "upload", "egov", "province-maps"]
    settings = replace(Settings.from_env(), config_dir=tmp_path, var_dir=tmp_path / "var")
    write_settings(settings.var_dir, {"cloud": "http://127.0.0.1:1", "upload": "http://127.0.0.1:2"})
    partners = IntegrationConfig.of(settings).partners
    assert partners["cloud"]["url"] == real_cloud  # config/ wins over a stand-in
    assert partners["province"]["upload_url"] == "http://127.0.0.1:2/uploads"
    assert partners["province"]["csw_url"] is None  # no stand-in, nothing set: no push
    (tmp_path / "integration.yaml").write_text(shipped.replace("standins: true", "standins: false"), encoding="utf-8")
    assert wanted(tmp_path) == []
    (tmp_path / "integration.yaml").write_text(shipped.replace("standins: true", "standins: maybe"), encoding="utf-8")
    with pytest.raises(ValueError, match="standins"):
        IntegrationConfig.load(tmp_path)


def test_the_provinces_map_layers_are_uncached_sources_titled_as_theirs_and_internal(tmp_path):
    from dataclasses import replace

    from integration.province_maps import catalogue_layers, mapproxy_part, service_url
    from onemap.core.settings import Settings
    from onemap.maps.config import part_sensitivity, with_parts

    assert service_url("https://p.example/wms?SERVICE=WMS&request=GetCapabilities&map=/m/x.map") == \
        "https://p.example/wms?map=%2Fm%2Fx.map"  # the request's own parameters dropped, the others kept
    settings = replace(Settings.from_env(), config_dir=tmp_path, var_dir=tmp_path)
    shipped = (config_dir() / "integration.yaml").read_text(encoding="utf-8")
    (tmp_path / "integration.yaml").write_text(shipped, encoding="utf-8")
    assert mapproxy_part(settings) == {} and catalogue_layers(settings) == []  # no WMS: no provincial layers
    (tmp_path / "integration.yaml").write_text(shipped.replace(
        "    wms_url: null ", '    wms_url: "https://p.example/wms?SERVICE=WMS&REQUEST=GetCapabilities" #'),
        encoding="utf-8")
    part = mapproxy_part(settings)
    [record] = catalogue_layers(settings)  # its catalogue record's data (catalogue.records.PartnerLayer)
    assert (record["id"], record["partner"], record["layer"], record["sensitivity"], record["directory"]) == (
        "SJ_STBHHX", "province", "STBHHX", "internal", ["规划成果数据", "三条控制线", "生态保护红线"])
    assert record["title"] == {"zh": "生态保护红线（省级平台）", "en": "ecological protection red line (provincial platform)"}
    source = part["sources"]["province_SJ_STBHHX"]
    assert source["type"] == "wms" and source["req"]["url"] == "https://p.example/wms"
    assert source["req"]["layers"] == "STBHHX" and source["http"]["client_timeout"] == 5
    assert part["caches"]["SJ_STBHHX_cache"]["disable_storage"] is True
    assert "省级平台" in part["layers"][0]["title"] and "provincial platform" in part["layers"][0]["title"]
    assert part_sensitivity(part) == {"SJ_STBHHX": "internal"}
    assert part_sensitivity({"layers": [{"name": "X"}]}) == {"X": "internal"}  # nothing said: internal
    empty = {"sources": {}, "caches": {}, "layers": []}
    assert [x["name"] for x in with_parts(empty, [part], "internal")["layers"]] == ["SJ_STBHHX"]
    assert with_parts({"sources": {}, "caches": {}, "layers": []}, [part], "public")["layers"] == []
    (tmp_path / "integration.yaml").write_text(shipped.replace("sensitivity: internal}", "sensitivity: secret}"),
                                               encoding="utf-8")
    with pytest.raises(ValueError, match="sensitivity"):
        IntegrationConfig.load(tmp_path)
