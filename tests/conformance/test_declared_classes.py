"""Declaring a class nobody tests breaks the build: every class of
/ogc/conformance, and every OGC service, is claimed by a test of this tier."""

from __future__ import annotations

import pytest

from tests.conformance.conftest import SERVICES, claims


def test_every_declared_class_and_service_is_claimed(request, declared_classes):
    claimed = claims(request.session.items)
    assert len(declared_classes) > 20  # the stack declares its classes at all
    unclaimed = [cls for cls in [*declared_classes, *SERVICES] if cls not in claimed]
    assert not unclaimed, f"声明了但无测试 / declared but claimed by no test: {unclaimed}"
    undeclared = sorted(set(claimed) - set(declared_classes) - set(SERVICES))
    assert not undeclared, f"测试声称了未声明的类 / tests claim classes not declared: {undeclared}"


@pytest.mark.parametrize("cls", ["http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"])
def test_a_withdrawn_class_is_not_declared(declared_classes, cls):
    assert cls not in declared_classes
