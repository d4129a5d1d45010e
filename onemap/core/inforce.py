"""The one definition of "in force" (现行) for versioned plan layers: a row
is in force at an instant when its version took effect at or before it and
has not ended by then. Features, tiles, maps, statistics, the exporter and
the compliance check all use it, so a future-dated publish changes all of
them on the day it takes effect, and none before."""

from __future__ import annotations


def in_force(at: str = "now()", alias: str | None = None) -> str:
    """The SQL condition. `at` is an SQL expression (`now()`, a placeholder
    such as `%s`), never user text; `alias` qualifies the columns."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}valid_from <= {at} AND ({prefix}valid_to IS NULL OR {prefix}valid_to > {at})"


def in_force_state_sql() -> str:
    """A query whose one value changes whenever the set of plan versions in
    force changes — a publish, a version whose day has come, a withdrawal —
    and only then (for caches of what the plan looked like)."""
    return ("SELECT md5(coalesce(string_agg(plan_version || '@' || valid_from::text, ',' ORDER BY plan_version), "
            f"'')) FROM plan.plan_version WHERE {in_force()}")
