"""Shared fixtures. Integration tests talk HTTP to a running stack: the one
`make test` starts (ONEMAP_URL and DATABASE_URL are set by `onemap test`), or,
while developing, the one `make up` runs (set both yourself)."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import requests

from onemap.core.accounts import create_token
from onemap.core.registry import load_layers
from tests.receiver import Receiver


@pytest.fixture(scope="session")
def base_url() -> str:
    url = os.environ.get("ONEMAP_URL")
    if not url:
        pytest.exit("集成测试需要运行中的服务 / integration tests need the running stack: "
                    "run `make test` (or set ONEMAP_URL and DATABASE_URL)", returncode=4)
    return url.rstrip("/")


@pytest.fixture(scope="session")
def ogc_url(base_url: str) -> str:
    return f"{base_url}/ogc"


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.exit("DATABASE_URL is not set: run `make test`", returncode=4)
    return url


@pytest.fixture(scope="session")
def db(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def tokens(database_url: str) -> dict[str, str]:
    """A fresh token per role."""
    return {role: create_token(database_url, role, f"pytest-{role}") for role in ("staff", "admin", "egov")}


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture
def receiver():
    """A partner's callback endpoint on loopback (tests.receiver)."""
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(autouse=True)
def owslib_request_headers():
    """OWSLib's OGC API clients update one module-level dict with the
    headers given to any of them (owslib.ogcapi.API.__init__): put back
    after each test, so a token one test gave its client is not sent by
    another test's anonymous client in the same process."""
    from owslib import ogcapi

    saved = dict(ogcapi.REQUEST_HEADERS)
    yield
    ogcapi.REQUEST_HEADERS.clear()
    ogcapi.REQUEST_HEADERS.update(saved)


@pytest.fixture(scope="session")
def layers():
    return load_layers()


@pytest.fixture(scope="session")
def http() -> requests.Session:
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    return session


# Test files that share state beyond objects of their own (one file's runs
# feed or disturb another's assertions): `onemap test` runs the files in several
# processes, and a group's files in one of them, one after the other.
SHARED_STATE_GROUPS = {
    "qc": ["test_plan_processes", "test_plan_qc_rules"],
    "supervision": ["test_supervision_evaluation", "test_supervision_monitoring", "test_supervision_services",
                    "test_supervision_transmission", "test_supervision_warnings", "test_domain_classification"],
    "evaluation": ["test_evaluation", "test_evaluation_services"],
    "subordinate plans": ["test_detailed_plans", "test_special_plans"],  # the horizontal check reads both
}
GROUP_OF = {module: group for group, modules in SHARED_STATE_GROUPS.items() for module in modules}


def pytest_collection_modifyitems(config, items):
    """Tests that restart the database run last: the session's connections
    (the `db` fixture) do not survive a restart. The groups come first: the
    longest runs are best started early."""
    items.sort(key=lambda item: (item.get_closest_marker("restarts_database") is not None,
                                 item.get_closest_marker("stops_a_backend") is not None,
                                 item.path.stem not in GROUP_OF))


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's file scheduling, a group of SHARED_STATE_GROUPS being
    one file (its `loadgroup` marks no longer reach the scheduler under
    pytest 9, whose node ids it cannot rename)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFileOrGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return GROUP_OF.get(Path(path).stem, path)

    return ByFileOrGroup(config, log)
