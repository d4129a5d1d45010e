"""电子政务 The e-government approval system: the process job callbacks it
receives (OGC API Processes subscriber URLs), through the outbox and signed
with its shared secret (integration.signature)."""

from __future__ import annotations

from typing import Any

from integration.outbox import Message, enqueue
from onemap.core import db

PARTNER = "egov"


def enqueue_callback(database_url: str, job_id: str, event: str, url: str, payload: Any) -> int | None:
    """A job's callback (event: inProgress, success, failed) into the outbox;
    its key, `<job id>:<event>`, is the same for every try of it."""
    with db.connect(database_url, autocommit=True) as conn:
        return enqueue(conn, Message.json(PARTNER, "callback", f"{job_id}:{event}", url, payload))
