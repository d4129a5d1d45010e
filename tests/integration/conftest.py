"""Fixtures of the integration tests that read map pixels."""

from __future__ import annotations

import pytest

from onemap.core.inforce import in_force
from tests.integration.parcels import Parcel, roomiest_parcel


@pytest.fixture(scope="module")
def plan_parcel(db) -> Parcel:
    return roomiest_parcel(db, "GHYDYH", "plan.ghydyh", "ydyhdm", f"WHERE {in_force()}")


@pytest.fixture(scope="module")
def current_parcel(db) -> Parcel:
    return roomiest_parcel(db, "DLTB", "base.dltb", "dlbm")
