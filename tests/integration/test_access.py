"""The access matrix: every role against every sensitivity, for the
collection list, items, single items and tiles."""

from __future__ import annotations

import uuid

import pytest
import requests
import yaml

from onemap.core.settings import Settings
from onemap.ogc.config import RECORDS_COLLECTION, config_path
from tests.conftest import auth

ROLES = [None, "egov", "staff", "admin"]
READS_INTERNAL = {"staff", "admin"}


def _expected(role: str | None, public: bool) -> int:
    if public or role in READS_INTERNAL:
        return 200
    return 401 if role is None else 403


def _urls(ogc_url: str, layer_id: str, item_id: int) -> dict[str, str]:
    return {
        "collection": f"{ogc_url}/collections/{layer_id}?f=json",
        "items": f"{ogc_url}/collections/{layer_id}/items?f=json&limit=2",
        "item": f"{ogc_url}/collections/{layer_id}/items/{item_id}?f=json",
        "tiles": f"{ogc_url}/collections/{layer_id}/tiles/WebMercatorQuad/0/0/0?f=mvt",
    }


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(ogc_url, tokens, layers, db, role):
    headers = auth(tokens[role]) if role else {}
    for layer in layers:
        item_id = db.execute(f"SELECT min(id) FROM {layer.table}").fetchone()[0]
        for what, url in _urls(ogc_url, layer.id, item_id).items():
            if item_id is None and what == "item":
                continue  # an empty table (e.g. no check recorded yet) has no single item to ask for
            r = requests.get(url, headers=headers, timeout=120)
            want = _expected(role, layer.is_public)
            got = 200 if (what == "tiles" and r.status_code == 204) else r.status_code  # 204: an empty tile
            assert got == want, f"{role} {layer.id} {what}: {r.status_code} {r.text[:200]}"
            if want != 200:
                body = r.json()
                assert body["message_zh"] and body["message_en"]
                if want == 401:
                    assert "Bearer" in r.headers["WWW-Authenticate"] and "Basic" in r.headers["WWW-Authenticate"]


@pytest.mark.parametrize("role", ROLES)
def test_collection_list_hides_what_the_role_cannot_read(ogc_url, tokens, layers, role):
    headers = auth(tokens[role]) if role else {}
    r = requests.get(f"{ogc_url}/collections", params={"f": "json"}, headers=headers, timeout=30)
    assert r.status_code == 200
    listed = {c["id"] for c in r.json()["collections"]}
    expected = {layer.id for layer in layers if layer.is_public or role in READS_INTERNAL}
    # the collections domains add (evaluation coverages) are in the internal configuration only
    internal = yaml.safe_load(config_path(Settings.from_env(), "internal").read_text(encoding="utf-8"))["resources"]
    domain = ({cid for cid, resource in internal.items() if resource["type"] == "collection"}
              - {layer.id for layer in layers} - {RECORDS_COLLECTION})
    assert listed == expected | {RECORDS_COLLECTION} | (domain if role in READS_INTERNAL else set())
    # nor does the OpenAPI document of a public client name internal layers
    doc = requests.get(f"{ogc_url}/openapi", params={"f": "json"}, headers=headers, timeout=60).text
    for layer in layers:
        assert (f"/collections/{layer.id}/items" in doc) == (layer.id in expected)


def test_wrong_or_malformed_token_is_401(ogc_url):
    for header in ("Bearer om_not_a_real_token", "Basic dXNlcjpwYXNz", "Bearer "):
        r = requests.get(f"{ogc_url}/collections/GHYDYH/items", params={"f": "json"},
                         headers={"Authorization": header}, timeout=30)
        assert r.status_code == 401, header
        assert r.json()["field"] == "Authorization"


def test_revoked_token_is_401(ogc_url, database_url):
    from onemap.core.accounts import create_token, revoke_token

    token = create_token(database_url, "staff", "pytest-revoked")
    assert requests.get(f"{ogc_url}/collections/DLTB/items?f=json&limit=1", headers=auth(token),
                        timeout=30).status_code == 200
    revoke_token(database_url, "pytest-revoked")
    assert requests.get(f"{ogc_url}/collections/DLTB/items?f=json&limit=1", headers=auth(token),
                        timeout=30).status_code == 401


def test_a_revoked_token_is_refused_at_once_on_a_cached_tile(base_url, database_url):
    """Sign-in reads a token's state with the access version in one
    statement and caches neither: the first request after a revocation is
    refused by every worker, on the hot path of a cached tile too, and with
    the token as a Basic password (whose verified passwords are cached)."""
    from onemap.core.accounts import create_token, revoke_token
    from tests.integration.test_accounts import ROUNDS, basic

    name = f"pytest-revoked-tile-{uuid.uuid4().hex[:8]}"
    token = create_token(database_url, "staff", name)
    tile = f"{base_url}/mapproxy/wmts/DLTB/WebMercatorQuad/8/207/106.png"  # an internal layer's
    for headers in (auth(token), basic("qgis", token)):
        for _ in range(ROUNDS):  # every worker has signed the token in; the tile is cached after the first
            assert requests.get(tile, headers=headers, timeout=120).status_code == 200
    revoke_token(database_url, name)
    for headers in (auth(token), basic("qgis", token)):
        for _ in range(ROUNDS):
            refused = requests.get(tile, headers=headers, timeout=120)
            assert refused.status_code == 401 and refused.json()["field"] == "Authorization"


def test_tokens_are_stored_hashed(db, tokens):
    stored = [r[0] for r in db.execute("SELECT token_sha256 FROM ops.token")]
    for token in tokens.values():
        assert token not in stored
