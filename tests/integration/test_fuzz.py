"""Schema-driven fuzzing (schemathesis) over the self-contained OpenAPI
document, in the suite with a few examples an operation (bench/fuzz.py runs
many): every operation, anonymous and with a staff token (the internal
layers, the jobs and the processes but those that change what other tests
read and the slow evaluations, which bench/fuzz.py runs), with 0 server
errors and 0 responses that break their documented schema."""

from __future__ import annotations

import os

import pytest

from bench.fuzz import CHANGES_DATA, SLOW, fuzz

pytestmark = pytest.mark.serial  # changes what other test files see: runs alone

EXAMPLES = int(os.environ.get("ONEMAP_FUZZ_EXAMPLES", "3"))


@pytest.mark.parametrize("role", [None, "staff"])
def test_no_operation_errs_or_breaks_its_schema(ogc_url, tokens, role):
    operations, failures = fuzz(ogc_url, tokens[role] if role else None, EXAMPLES, f"{CHANGES_DATA}|{SLOW}")
    assert operations > 60  # every collection, process and job operation: the document resolved whole
    assert not failures, f"{len(failures)} of {operations} operations failed:\n" + "\n\n".join(failures)
