"""配置管理: an operator changes the configuration through /admin/config —
checked as a whole, versioned, audited, applied by a graceful reload, rolled
back by number or label; bad content is refused with nothing written. The
test stack runs on a copy of config/ (`onemap test`), so the checkout stays
as it is."""

from __future__ import annotations

import time

import pytest
import yaml

from tests.conftest import auth

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

HANG_GUARD_S = 600  # a reload takes seconds; this only stops a hung test


@pytest.fixture(scope="module")
def admin_config(base_url):
    return f"{base_url}/admin/config"


def collection_title(http, ogc_url) -> str:
    r = http.get(f"{ogc_url}/collections/XZQ", params={"f": "json", "lang": "zh"})
    r.raise_for_status()
    return r.json()["title"]


def wait_for_title(http, ogc_url, title: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    seen = None
    while time.monotonic() < deadline:
        try:
            seen = collection_title(http, ogc_url)
        except Exception as exc:  # the reload in progress
            seen = repr(exc)
        if seen == title:
            return
        time.sleep(0.5)
    raise AssertionError(f"collection title still {seen!r}, expected {title!r}")


def with_xzq_title(layers_yaml: str, title_zh: str) -> bytes:
    data = yaml.safe_load(layers_yaml)
    for layer in data["layers"]:
        if layer["id"] == "XZQ":
            layer["title"]["zh"] = title_zh
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


def test_only_administrators_manage_the_configuration(http, admin_config, tokens):
    assert http.get(admin_config).status_code == 401
    for role in ("staff", "egov"):
        r = http.get(admin_config, headers=auth(tokens[role]))
        assert r.status_code == 403, role
        assert "config" in r.json()["message_en"]
    r = http.put(f"{admin_config}/files/layers.yaml", data=b"layers: []", headers=auth(tokens["staff"]))
    assert r.status_code == 403


def test_a_change_is_checked_versioned_applied_and_rolled_back(http, admin_config, ogc_url, tokens, db):
    admin = auth(tokens["admin"])
    listed = http.get(admin_config, headers=admin).json()["files"]
    assert {"layers.yaml", "gateway.yaml", "rules/permit.yaml"} <= {f["path"] for f in listed}
    original = http.get(f"{admin_config}/files/layers.yaml", headers=admin).text
    original_title = collection_title(http, ogc_url)

    r = http.put(f"{admin_config}/files/layers.yaml", headers=admin,
                 params={"comment": "行政区更名测试", "label": "renamed-xzq"},
                 data=with_xzq_title(original, "行政区划（测试）"))
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["applied"] and changed["gatewayReloaded"]
    wait_for_title(http, ogc_url, "行政区划（测试）")

    history = http.get(f"{admin_config}/versions/layers.yaml", headers=admin).json()["versions"]
    assert history[0]["version"] == changed["version"] and history[0]["label"] == "renamed-xzq"
    assert history[0]["author"] == "pytest-admin" and history[0]["comment"] == "行政区更名测试"
    # the content in use before the first change was kept, so it can come back
    before = history[1]
    assert http.get(f"{admin_config}/files/layers.yaml", params={"version": before["version"]},
                    headers=admin).text == original
    audited = db.execute("SELECT actor, detail->>'version' FROM ops.audit WHERE action = 'config.change' "
                         "AND target = 'layers.yaml' ORDER BY id DESC LIMIT 1").fetchone()
    assert audited == ("pytest-admin", str(changed["version"]))

    r = http.post(f"{admin_config}/rollback/layers.yaml", headers=admin, json={"version": before["version"]})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == changed["version"] + 1
    wait_for_title(http, ogc_url, original_title)
    assert http.get(f"{admin_config}/files/layers.yaml", headers=admin).text == original
    # a version by its label (what a rollback by label makes current)
    assert http.get(f"{admin_config}/files/layers.yaml", params={"version": "renamed-xzq"},
                    headers=admin).content == with_xzq_title(original, "行政区划（测试）")

@pytest.mark.parametrize("path, content, field, words", [
    ("layers.yaml", b"layers: [\n  {id: XZQ", "layers.yaml", "line"),
    ("rules/permit.yaml", "stages: [许可]\nrules:\n  - {id: X, layer: NOPE}\n".encode(), "rules/permit.yaml",
     "compliance rule sets"),
    ("..%2Fpyproject.toml", b"x", "path", "Invalid configuration path"),
    ("notes.txt", b"x", "path", "Invalid configuration path"),
])
def test_bad_content_is_refused_and_nothing_is_written(http, admin_config, tokens, db, path, content, field, words):
    admin = auth(tokens["admin"])
    versions_before = db.execute("SELECT count(*) FROM ops.config_version").fetchone()[0]
    files_before = {f["path"]: http.get(f"{admin_config}/files/{f['path']}", headers=admin).content
                    for f in http.get(admin_config, headers=admin).json()["files"]}
    r = http.put(f"{admin_config}/files/{path}", headers=admin, data=content)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == field and words in body["message_en"] and body["message_zh"]
    assert db.execute("SELECT count(*) FROM ops.config_version").fetchone()[0] == versions_before
    assert {f["path"]: http.get(f"{admin_config}/files/{f['path']}", headers=admin).content
            for f in http.get(admin_config, headers=admin).json()["files"]} == files_before


def test_a_layer_that_rules_depend_on_cannot_be_removed(http, admin_config, tokens):
    admin = auth(tokens["admin"])
    data = yaml.safe_load(http.get(f"{admin_config}/files/layers.yaml", headers=admin).text)
    data["layers"] = [layer for layer in data["layers"] if layer["id"] != "STBHHX"]
    r = http.put(f"{admin_config}/files/layers.yaml", headers=admin,
                 data=yaml.safe_dump(data, allow_unicode=True).encode())
    assert r.status_code == 400
    assert "compliance rule sets" in r.json()["message_en"] and "STBHHX" in r.json()["message_en"]


def test_unknown_version_is_a_404(http, admin_config, tokens):
    r = http.post(f"{admin_config}/rollback/layers.yaml", headers=auth(tokens["admin"]), json={"version": "nope"})
    assert r.status_code == 404 and r.json()["field"] == "version"
