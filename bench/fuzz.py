"""Schema-driven fuzzing (schemathesis) of the OGC API over the OpenAPI
document the stack serves (self-contained since its OGC schemas are bundled):
every operation, anonymously and with a staff token, checked for server
errors (5xx) and for responses that break their documented schema. Prints the
number of operations, of failing operations per kind, and each failure with
the curl line that reproduces it.

    ONEMAP_URL=http://127.0.0.1:8000 DATABASE_URL=... .venv/bin/python bench/fuzz.py [examples]

The processes that change the plan or take uploads (plan-submit,
plan-publish, plan-qc) or write indicator values and warnings
(indicator-compute, indicator-warning, indicator-warning-handle) are left
out: random inputs that passed their checks would change the data.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from onemap.core.accounts import create_token

# processes that change what the other tests read: the plan, indicator values, warnings
CHANGES_DATA = r"^/processes/(plan-(submit|publish|qc)|indicator-(compute|warning|warning-handle))/"
# processes that take seconds to a minute a run: fuzzed here, left out of make test's short run
SLOW = r"^/processes/(suitability-evaluation|carrying-capacity-evaluation|risk-evaluation|implementation-evaluation|indicator-transmission)/"
CHECKS = [not_a_server_error, response_schema_conformance]


def fuzz(ogc_url: str, token: str | None, examples: int, exclude: str = CHANGES_DATA) -> tuple[int, list[str]]:
    """Every operation with `examples` generated requests; the number of
    operations, and the failures (operation and the checks' report)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    document = requests.get(f"{ogc_url}/openapi", params={"f": "json"}, headers=headers, timeout=60).json()
    schema = schemathesis.openapi.from_dict(document).exclude(path_regex=exclude)
    budget = settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @budget
        @given(case=operation.as_strategy())
        def run(case) -> None:
            case.call_and_validate(base_url=ogc_url, headers=headers, checks=CHECKS, timeout=120)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # the checks' report
            failures.append(f"{operation.label}: {exc}")
    return operations, failures


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    ogc_url = os.environ["ONEMAP_URL"].rstrip("/") + "/ogc"
    staff = create_token(os.environ["DATABASE_URL"], "staff", "bench-fuzz")
    for role, token in (("anonymous", None), ("staff", staff)):
        start = time.perf_counter()
        operations, failures = fuzz(ogc_url, token, examples)
        kinds = Counter(line.strip() for f in failures for line in f.splitlines() if line.strip().startswith("- ST"))
        print(f"{role}: {operations} operations x {examples} examples in {time.perf_counter() - start:.0f} s, "
              f"{len(failures)} failing; " + ", ".join(f"{k} ({n})" for k, n in kinds.most_common()))
        for failure in failures:
            print("  " + failure.replace("\n", "\n  ")[:3000])


if __name__ == "__main__":
    main()
