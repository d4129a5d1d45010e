from onemap.core.access import AccessPolicy
from onemap.core.auth import ANONYMOUS, Principal
from onemap.core.registry import load_layers
from onemap.core.settings import Settings


def policy() -> AccessPolicy:
    return AccessPolicy.from_config(Settings.from_env().gateway, load_layers())


def test_anonymous_gets_401_on_internal_layers_and_passes_on_public():
    p = policy()
    problem = p.check_collection_path("/collections/STBHHX/items", ANONYMOUS)
    assert problem is not None and problem.status == 401 and problem.zh and problem.en
    assert p.check_collection_path("/collections/GHYDYH/items", ANONYMOUS) is None
    assert p.audience(ANONYMOUS) == "public"


def test_roles():
    p = policy()
    egov = Principal("e-gov", "egov")
    problem = p.check_collection_path("/collections/DLTB/tiles/WebMercatorQuad/1/1/1", egov)
    assert problem is not None and problem.status == 403
    assert "staff" in problem.en and "admin" in problem.en
    for role in ("staff", "admin"):
        assert p.check_collection_path("/collections/DLTB/items/1", Principal("x", role)) is None
        assert p.audience(Principal("x", role)) == "internal"
    assert p.audience(egov) == "public"


def test_paths_that_name_no_layer_are_not_judged_here():
    p = policy()
    for path in ("/", "/conformance", "/collections", "/collections/UNKNOWN/items", "/processes"):
        assert p.check_collection_path(path, ANONYMOUS) is None


def test_processes_need_their_roles_and_jobs_need_a_token():
    from onemap.core.registry import ProcessEntry

    p = AccessPolicy.from_config(Settings.from_env().gateway, load_layers(),
                                 [ProcessEntry("compliance-check", "x.Y"), ProcessEntry("plan-qc", "x.Z"),
                                  ProcessEntry("compliance-batch-check", "x.W")])
    egov = Principal("e-gov", "egov")
    assert p.check_process_path("/processes/compliance-check/execution", "POST", egov) is None
    assert p.check_process_path("/processes/plan-qc/execution", "POST", egov).status == 403
    assert p.check_process_path("/processes/plan-qc/execution", "POST", ANONYMOUS).status == 401
    assert p.check_process_path("/processes/plan-qc", "GET", ANONYMOUS) is None
    assert p.check_process_path("/jobs/abc/results", "GET", ANONYMOUS).status == 401
    assert p.check_process_path("/jobs", "GET", egov) is None


def test_administration_needs_a_role_that_administers_the_function():
    gateway = {"roles": {"staff": {"reads": ["public"]},
                         "admin": {"reads": ["public"], "administers": ["audit"]}},
               "anonymous_reads": ["public"]}
    policy = AccessPolicy.from_config(gateway, [])
    assert policy.check_admin(Principal("a", "admin"), "audit") is None
    assert policy.check_admin(Principal("a", "admin"), "backup").status == 403
    assert policy.check_admin(Principal("s", "staff"), "audit").status == 403
    assert policy.check_admin(ANONYMOUS, "audit").status == 401
