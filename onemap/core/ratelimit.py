"""Per-client rate limit of anonymous requests (限流): a token bucket per
client address, kept in PostgreSQL (ops.rate_bucket, unlogged) so every
gunicorn worker and every gateway replica draws from the same bucket; one
statement refills, takes and answers, atomically under the row's lock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import psycopg

# Refill (what was left plus the time since at the rate, up to the burst),
# then take one: a result below 0 means refused. A refused request takes one
# too (from at most an empty bucket), so hammering only lengthens the wait.
_TAKE = """
INSERT INTO ops.rate_bucket AS b (bucket, tokens, updated) VALUES (%(bucket)s, %(burst)s - 1, clock_timestamp())
ON CONFLICT (bucket) DO UPDATE SET
    tokens = greatest(least(%(burst)s, b.tokens + extract(epoch FROM clock_timestamp() - b.updated) * %(rate)s),
                      0) - 1,
    updated = clock_timestamp()
RETURNING tokens
"""


@dataclass(frozen=True)
class RateLimit:
    """`per_second` requests a second per client address, `burst` at once."""

    per_second: float
    burst: int

    @classmethod
    def from_config(cls, limits: dict[str, Any]) -> RateLimit:
        spec = limits["anonymous_rate"]
        return cls(float(spec["per_second"]), int(spec["burst"]))

    def take(self, conn: psycopg.Connection, client: str) -> int | None:
        """Take a token for `client`: None when it may go on, else the whole
        seconds after which it may retry (Retry-After). Buckets are per limit
        too, so instances configured with other limits do not share them."""
        bucket = f"{self.per_second:g}/{self.burst} {client}"
        (tokens,) = conn.execute(_TAKE, {"bucket": bucket, "burst": self.burst, "rate": self.per_second}).fetchone()
        return None if tokens >= 0 else max(1, math.ceil((1 - tokens) / self.per_second))
