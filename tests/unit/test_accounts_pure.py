"""The pure parts of accounts and sign-in: role data and its checks, the
policy from several roles, credentials, the SSO verifier (real signatures
with the test-only keys) and its refusal of unsafe settings."""

from __future__ import annotations

import base64
import shutil
import time

import jwt
import pytest

from onemap.core.access import AccessPolicy, role_from_spec
from onemap.core.accounts import Identity
from onemap.core.auth import ANONYMOUS, Principal, credentials_of
from onemap.core.errors import OneMapError, Problem
from onemap.core.registry import load_layers, load_processes
from onemap.core.settings import ROOT, Settings
from onemap.core.sso import SsoSettings, SsoVerifier, looks_like_jwt

KEYS = ROOT / "tests" / "fixtures" / "sso-test-only"


def policy() -> AccessPolicy:
    return AccessPolicy.from_config(Settings.from_env().gateway, load_layers())


def test_the_default_roles_come_from_config_and_runs_all_means_every_process():
    p = policy()
    every = {proc.id for proc in load_processes()}
    assert p.roles["staff"].runs == every and p.roles["admin"].all_jobs
    assert p.roles["egov"].runs == {"compliance-check", "compliance-batch-check"} and not p.roles["public"].runs


@pytest.mark.parametrize("spec, field", [
    ({"reads": ["secret"]}, "reads"),
    ({"layers": ["NOPE"]}, "layers"),
    ({"runs": ["nope"]}, "runs"),
    ({"administers": ["root"]}, "administers"),
    ({"participation": ["censor"]}, "participation"),
    ({"participation": "moderate"}, "participation"),
    ({"jobs": "everyone"}, "jobs"),
    ({"reads": "public"}, "reads"),
    ({"zh": " "}, "zh"),
])
def test_bad_role_data_names_the_field(spec, field):
    with pytest.raises(OneMapError) as caught:
        role_from_spec("reviewer", {"zh": "审查", "en": "reviewer", **spec}, ["DLTB"], ["plan-qc"])
    assert caught.value.problem.field == field and caught.value.problem.status == 400
    assert caught.value.problem.zh and caught.value.problem.en


def test_a_custom_role_grants_one_layer_by_id_and_its_audience_only_for_that_layer():
    p = policy()
    p.replace_custom_roles({"reviewer": {"zh": "审查", "en": "reviewer", "reads": ["public"],
                                         "layers": ["STBHHX"], "runs": ["plan-qc"]}})
    reviewer = p.principal("li", ["reviewer"])
    assert p.check_layer("STBHHX", reviewer) is None
    assert p.check_layer("DLTB", reviewer).status == 403
    assert p.audience(reviewer) == "public" and p.audience(reviewer, ["STBHHX"]) == "internal"
    assert p.check_run(reviewer, "plan-qc") is None and p.check_run(reviewer, "plan-publish").status == 403
    assert not reviewer.all_jobs and p.check_admin(reviewer, "accounts").status == 403
    # several roles: the permissions of any count
    both = p.principal("wang", ["reviewer", "egov"])
    assert p.check_run(both, "compliance-check") is None and both.role == "egov,reviewer"
    # a role removed from storage is gone at the next swap
    p.replace_custom_roles({})
    assert p.check_layer("STBHHX", reviewer).status == 403


def test_participation_rights_are_permissions_of_a_role():
    p = policy()
    for builtin in ("staff", "admin"):  # what gateway.yaml gave them before the rights were the roles'
        assert p.participation(p.principal("x", [builtin])) == {"moderate", "triage", "publish"}
    assert not p.participation(p.principal("x", ["egov"])) and not p.participation(ANONYMOUS)
    p.replace_custom_roles({"moderator": {"zh": "审核员", "en": "moderator", "participation": ["moderate"]}})
    moderator = p.principal("wang", ["moderator"])
    assert p.participation(moderator) == {"moderate"} and p.roles["moderator"].as_dict()["participation"] == ["moderate"]
    assert p.check_participation(moderator, "moderate") is None
    refused = p.check_participation(moderator, "triage")
    assert refused.status == 403 and "举报" in refused.zh and "triage" in refused.en and "staff" in refused.en
    assert p.check_participation(p.principal("x", ["egov"]), "moderate").status == 403
    assert p.check_participation(ANONYMOUS, "publish").status == 401


def test_config_roles_cannot_be_redefined_through_the_api():
    with pytest.raises(OneMapError) as caught:
        policy().custom_role("admin", {"zh": "x", "en": "x"})
    assert caught.value.problem.status == 409


def test_a_user_without_roles_is_signed_in_but_reads_what_no_role_grants():
    p = policy()
    nobody = p.principal("x", [])
    assert not nobody.is_anonymous and p.reads(nobody) == frozenset()
    assert p.check_layer("GHYDYH", nobody).status == 403 and p.check_layer("GHYDYH", ANONYMOUS) is None


def test_credentials():
    assert credentials_of("Bearer abc").secret == "abc"
    basic = credentials_of("Basic " + base64.b64encode("张三:pa:ss".encode()).decode())
    assert (basic.scheme, basic.user, basic.secret) == ("basic", "张三", "pa:ss")
    for bad in ("Basic !!!", "Digest x", "Bearer ", "Basic " + base64.b64encode(b"nopassword:").decode()):
        with pytest.raises(OneMapError):
            credentials_of(bad)


def test_principal_keeps_the_single_role_form():
    assert Principal("x", "staff").roles == {"staff"} and ANONYMOUS.roles == frozenset()


@pytest.fixture
def verifier(tmp_path) -> SsoVerifier:
    gateway = Settings.from_env().gateway
    (tmp_path / "sso").mkdir()
    shutil.copy(KEYS / "jwks-TEST-ONLY.json", tmp_path / gateway["sso"]["jwks_file"])
    return SsoVerifier(SsoSettings.from_gateway(gateway, tmp_path, {"admin"}))


def _token(verifier: SsoVerifier, **claims) -> str:
    s = verifier.settings
    now = int(time.time())
    body = {"iss": s.issuer, "aud": s.audience, "sub": "li", "exp": now + 60, "roles": ["planner", "root"], **claims}
    return jwt.encode(body, (KEYS / "rs256-private-TEST-ONLY.pem").read_bytes(), algorithm="RS256",
                      headers={"kid": "test-rs256"})


def test_sso_maps_claims_through_the_role_map_only(verifier):
    identity = verifier.verify(_token(verifier))
    assert identity == Identity("egov:li", ("staff",))
    assert looks_like_jwt(_token(verifier)) and not looks_like_jwt("om_abc")


def test_sso_refuses_a_wrong_audience_and_a_missing_jwks(verifier):
    refused = verifier.verify(_token(verifier, aud="other"))
    assert isinstance(refused, Problem) and refused.status == 401 and "audience" in refused.en
    verifier.settings.jwks_file.unlink()
    assert "JWKS" in verifier.verify(_token(verifier)).en


@pytest.mark.parametrize("change, message", [
    ({"algorithms": ["HS256"]}, "public-key"),
    ({"algorithms": ["RS256", "none"]}, "public-key"),
    ({"role_map": {"ops": "admin"}}, "administers"),
])
def test_unsafe_sso_settings_are_refused_at_start(tmp_path, change, message):
    gateway = Settings.from_env().gateway
    with pytest.raises(ValueError, match=message):
        SsoSettings.from_gateway({**gateway, "sso": {**gateway["sso"], **change}}, tmp_path, {"admin"})


def test_a_process_entry_with_roles_is_refused_so_a_stale_list_is_not_silently_ignored(tmp_path):
    from onemap.core.registry import RegistryError

    (tmp_path / "processes.yaml").write_text("processes:\n  - {id: p, plugin: a.B, roles: [staff]}\n")
    with pytest.raises(RegistryError, match="runs: \\[p\\]"):
        load_processes(tmp_path / "processes.yaml")
