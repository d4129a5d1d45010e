"""Shared fixtures. Integration tests talk HTTP to a running stack: the one
`make test` starts (ONEMAP_URL and DATABASE_URL are set by `onemap test`), or,
while developing, the one `make up` runs (set both yourself)."""

from __future__ import annotations

import os

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


@pytest.fixture(scope="session")
def layers():
    return load_layers()


@pytest.fixture(scope="session")
def http() -> requests.Session:
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    return session


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Tests that restart the database run last: the session's connections
    (the `db` fixture) do not survive a restart.

    `onemap test` runs the files in two processes (pytest-xdist, --dist
    loadgroup): a file is one group unless it names a group it shares state
    with, so a file's tests and module fixtures stay in one process."""
    items.sort(key=lambda item: (item.get_closest_marker("restarts_database") is not None,
                                 item.get_closest_marker("stops_a_backend") is not None))
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
