"""Single sign-on of the e-government system: JWTs the test signs itself
with the test-only keys of tests/fixtures/sso-test-only (real RS256 and
ES256 signatures), checked by the gateway against the JWKS installed as the
stack's `sso.jwks_file`: good tokens map to a user and only the roles the
mapping allows; expired, not-yet-valid, wrong audience, wrong issuer, wrong
key, alg=none and HS256-with-the-public-key tokens are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import time

import jwt
import pytest
import requests

from onemap.core.settings import ROOT, Settings, load_yaml

KEYS = ROOT / "tests" / "fixtures" / "sso-test-only"
INTERNAL, PUBLIC = "STBHHX", "GHYDYH"


@pytest.fixture(scope="module")
def sso() -> dict:
    """The stack's SSO settings, with the test JWKS installed for the
    module's duration (and removed after: a test key must not stay trusted)."""
    settings = Settings.from_env()
    spec = load_yaml(settings.config_dir / "gateway.yaml")["sso"]
    target = settings.var_dir / spec["jwks_file"]
    assert not target.exists(), f"{target} exists: a real JWKS is installed; not overwriting it"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(KEYS / "jwks-TEST-ONLY.json", target)
    yield spec
    target.unlink()


def _claims(sso: dict, **changes) -> dict:
    now = int(time.time())
    claims = {"iss": sso["issuer"], "aud": sso["audience"], "sub": "zhangsan", "iat": now, "nbf": now - 5,
              "exp": now + 600, "roles": ["approval-system"]}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict, key_file: str = "rs256-private-TEST-ONLY.pem", alg: str = "RS256",
          kid: str = "test-rs256") -> str:
    return jwt.encode(claims, (KEYS / key_file).read_bytes(), algorithm=alg, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(claims: dict, alg: str, secret: bytes | None) -> str:
    """A token jwt.encode refuses to make: alg=none, or HS256 with the
    public key as the HMAC secret (the classic key-confusion attack)."""
    head = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "test-rs256"}).encode()) + "." + \
        _b64(json.dumps(claims).encode())
    if secret is None:
        return head + "."
    return head + "." + _b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


def _get(url: str, token: str) -> requests.Response:
    return requests.get(url, params={"f": "json", "limit": 1}, headers={"Authorization": f"Bearer {token}"},
                        timeout=30)


def test_a_good_rs256_token_maps_to_a_user_and_the_allowed_role(base_url, ogc_url, sso):
    token = _sign(_claims(sso, roles=["approval-system", "admin", "superuser"]))
    me = _get(f"{base_url}/auth/me", token).json()
    assert me["name"] == sso["user_prefix"] + "zhangsan" and me["roles"] == [sso["role_map"]["approval-system"]]
    assert me["administers"] == []  # a claim "admin" is no grant: the mapping does not allow it
    assert _get(f"{ogc_url}/collections/{PUBLIC}/items", token).status_code == 200
    assert _get(f"{ogc_url}/collections/{INTERNAL}/items", token).status_code == 403
    assert _get(f"{base_url}/admin/users", token).status_code == 403


def test_a_good_es256_token_of_a_planner_reads_internal_layers(ogc_url, sso):
    token = _sign(_claims(sso, roles=["planner"]), "es256-private-TEST-ONLY.pem", "ES256", "test-es256")
    assert _get(f"{ogc_url}/collections/{INTERNAL}/items", token).status_code == 200


def test_a_token_without_mapped_roles_reads_only_what_everyone_signed_in_may(ogc_url, sso):
    token = _sign(_claims(sso, roles=["unknown-role"]))
    assert _get(f"{ogc_url}/collections/{INTERNAL}/items", token).status_code == 403


@pytest.mark.parametrize("case, expected_en", [
    ("expired", "expired"),
    ("not yet valid", "not valid yet"),
    ("wrong audience", "audience"),
    ("wrong issuer", "issuer"),
    ("no expiry", "not valid"),
    ("wrong key", "signature"),
    ("alg none", "algorithm"),
    ("HS256 with the public key as secret", "algorithm"),
    ("tampered claims", "signature"),
])
def test_bad_tokens_are_refused(ogc_url, sso, case, expected_en):
    now = int(time.time())
    claims = _claims(sso, roles=["planner"])
    token = {
        "expired": lambda: _sign(_claims(sso, exp=now - 3600, nbf=now - 7200)),
        "not yet valid": lambda: _sign(_claims(sso, nbf=now + 3600, exp=now + 7200)),
        "wrong audience": lambda: _sign(_claims(sso, aud="another-system")),
        "wrong issuer": lambda: _sign(_claims(sso, iss="https://attacker.example")),
        "no expiry": lambda: _sign(_claims(sso, exp=None)),
        "wrong key": lambda: _sign(claims, "not-in-jwks-private-TEST-ONLY.pem"),
        "alg none": lambda: _forged(claims, "none", None),
        "HS256 with the public key as secret": lambda: _forged(
            claims, "HS256", (KEYS / "rs256-public-TEST-ONLY.pem").read_bytes()),
        "tampered claims": lambda: _tampered(_sign(_claims(sso, roles=["approval-system"])), claims),
    }[case]()
    r = _get(f"{ogc_url}/collections/{INTERNAL}/items", token)
    assert r.status_code == 401, f"{case}: {r.status_code}"
    body = r.json()
    assert body["field"] == "Authorization" and body["message_zh"] and expected_en in body["message_en"], body


def _tampered(token: str, claims: dict) -> str:
    """A validly signed token whose payload was swapped for one granting more."""
    head, _, signature = token.split(".")
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"

