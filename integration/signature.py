"""Signed deliveries (签名): HMAC-SHA256 over the timestamp and the body,
so that a partner knows a message is ours and fresh.

    X-OneMap-Timestamp: 1764750000                  (Unix seconds, at sending)
    X-OneMap-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

A receiver recomputes the HMAC over the bytes it received, compares in
constant time, and refuses a timestamp outside its replay window; the
Idempotency-Key header tells it a message it has already taken."""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-OneMap-Timestamp"
SIGNATURE_HEADER = "X-OneMap-Signature"


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers that sign `body` now (or at `timestamp`)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret, stamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"sha256={digest}"}


def verify(secret: bytes, body: bytes, headers: dict[str, str], window_s: float, now: float | None = None) -> str | None:
    """Why a signed message is refused, or None when it is good: what a
    partner's receiver does, in a few lines."""
    stamp = headers.get(TIMESTAMP_HEADER, "")
    if not stamp.isdigit():
        return "no timestamp"
    if abs((time.time() if now is None else now) - int(stamp)) > window_s:
        return "timestamp outside the replay window"
    expected = sign(secret, body, int(stamp))[SIGNATURE_HEADER]
    if not hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, "")):
        return "bad signature"
    return None
