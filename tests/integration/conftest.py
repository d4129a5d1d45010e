"""Fixtures of the integration tests: the plan package, and the parcels
of the tests that read map pixels."""

from __future__ import annotations

from pathlib import Path

import pytest

from onemap.core.inforce import in_force
from processes.plan.export import export_package
from tests.integration.parcels import Parcel, roomiest_parcel


@pytest.fixture(scope="session")
def plan_package(database_url, tmp_path_factory) -> Path:
    """The plan in force exported as a GeoPackage, once a session (an export
    takes seconds). Tests read it; who changes a package writes a copy."""
    return export_package(database_url, tmp_path_factory.mktemp("plan") / "plan.gpkg")


@pytest.fixture(scope="module")
def plan_parcel(db) -> Parcel:
    return roomiest_parcel(db, "GHYDYH", "plan.ghydyh", "ydyhdm", f"WHERE {in_force()}")


@pytest.fixture(scope="module")
def current_parcel(db) -> Parcel:
    return roomiest_parcel(db, "DLTB", "base.dltb", "dlbm")


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Environment changes for one test module (what a stack copy's checks read)."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch
