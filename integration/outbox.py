"""The outbox (发件箱): everything sent to a partner is a row of
integration.outbox first, written in the sender's transaction, and
delivered from there by whichever gateway worker claims it.

* Nothing is lost: a partner that is down, a gateway that stops mid-delivery
  — the row stays `pending` and is tried again; a claimed row carries a lease
  (its next_attempt_at) and comes due again when its claimer died.
* Nothing is sent twice under one key: one row per (partner, key), and the
  key travels as the Idempotency-Key header, so a partner that took a
  message whose success we never heard of (a crash between its answer and
  our commit) knows it again.
* Claims use FOR UPDATE SKIP LOCKED: any number of workers of any number of
  gateways share the table without handing one message to two of them.
* Backoff: base × 2^(attempt−1), capped, times a jitter of 0.5–1 (partners
  back from an outage are not hit by all retries at once); after
  max_attempts the message is `dead` (死信) until an administrator replays it.
* Every attempt is a row of integration.delivery (the delivery log)."""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
import requests
from psycopg.rows import dict_row

from integration import signature
from integration.config import IntegrationConfig, OutboxSettings, secret
from onemap.core import db
from onemap.core.settings import Settings

LOGGER = logging.getLogger(__name__)
STATES = ("pending", "sent", "dead")
# 4xx answers that say "later", not "never"
_RETRYABLE_4XX = {408, 409, 425, 429}


@dataclass(frozen=True)
class Message:
    """What a sender puts in the outbox."""

    partner: str
    kind: str
    idempotency_key: str
    url: str
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, partner: str, kind: str, key: str, url: str, payload: Any) -> Message:
        return cls(partner, kind, key, url, json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"))


def enqueue(conn: psycopg.Connection, message: Message) -> int | None:
    """Put `message` in the outbox in the caller's transaction: the id of the
    new row, None when a message of that key is already there."""
    row = conn.execute(
        "INSERT INTO integration.outbox (partner, kind, idempotency_key, url, content_type, body) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (partner, idempotency_key) DO NOTHING RETURNING id",
        (message.partner, message.kind, message.idempotency_key, message.url, message.content_type,
         message.body)).fetchone()
    return row[0] if row else None


def backoff_seconds(attempts: int, settings: OutboxSettings, rand: random.Random | None = None) -> float:
    """The wait after the `attempts`-th failed try."""
    ceiling = min(settings.max_delay_seconds, settings.base_delay_seconds * 2 ** max(attempts - 1, 0))
    return ceiling * (0.5 + 0.5 * (rand or random).random())


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(conn: psycopg.Connection, settings: OutboxSettings) -> dict[str, Any] | None:
    """Claim the next due message, if any: its attempt is counted and leased
    for the length of a delivery (two requests at most) and a margin, after
    which it is due again if no outcome was written (its worker died)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE integration.outbox o SET attempts = attempts + 1, "
            "next_attempt_at = now() + make_interval(secs => %(lease)s) "
            "WHERE id = (SELECT id FROM integration.outbox WHERE state = 'pending' AND next_attempt_at <= now() "
            "ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "RETURNING id, partner, kind, idempotency_key, url, content_type, body, attempts",
            {"lease": 2 * settings.timeout_seconds + 30}).fetchone()


Delivered = tuple[int | None, str | None]  # the partner's HTTP status (if it answered), what went wrong (None: taken)
Transport = Callable[[dict[str, Any], IntegrationConfig, Settings, requests.Session], Delivered]


def signed_post(message: dict[str, Any], config: IntegrationConfig, settings: Settings,
                session: requests.Session) -> requests.Response:
    """POST the body with the idempotency key, signed when the partner has a
    secret (raises requests' errors)."""
    body = bytes(message["body"])
    headers = {"Content-Type": message["content_type"], "Idempotency-Key": message["idempotency_key"]}
    key = secret(settings, config.partners.get(message["partner"], {}))
    if key:
        headers.update(signature.sign(key, body))
    return session.post(message["url"], data=body, headers=headers, timeout=config.outbox.timeout_seconds,
                        allow_redirects=False)


def post(message: dict[str, Any], config: IntegrationConfig, settings: Settings,
         session: requests.Session) -> Delivered:
    """The plain transport: taken when the partner answers 2xx."""
    try:
        response = signed_post(message, config, settings, session)
    except requests.RequestException as exc:
        return None, f"{exc.__class__.__name__}: {exc}"
    return response.status_code, answer_error(response)


def answer_error(response: requests.Response) -> str | None:
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:500]}"


def is_final(status: int | None) -> bool:
    """A 4xx that says "never", not "later"."""
    return status is not None and 400 <= status < 500 and status not in _RETRYABLE_4XX


def outcome(conn: psycopg.Connection, message: dict[str, Any], settings: OutboxSettings, worker: str,
            started: float, status: int | None, error: str | None) -> str:
    """Write what an attempt came to: the delivery log row and the message's
    new state (sent, pending again after its backoff, or dead)."""
    permanent = is_final(status)
    if error is None:
        state = "sent"
    elif permanent or message["attempts"] >= settings.max_attempts:
        state = "dead"
    else:
        state = "pending"
    with conn.transaction():
        conn.execute("INSERT INTO integration.delivery (message_id, attempt, worker, http_status, error, duration_ms) "
                     "VALUES (%s, %s, %s, %s, %s, %s)",
                     (message["id"], message["attempts"], worker, status, error,
                      round((time.monotonic() - started) * 1000, 1)))
        conn.execute("UPDATE integration.outbox SET state = %s, last_error = %s, "
                     "sent_at = CASE WHEN %s = 'sent' THEN now() END, "
                     "next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                     (state, error, state, backoff_seconds(message["attempts"], settings), message["id"]))
    return state


def deliver(database_url: str, config: IntegrationConfig, settings: Settings, session: requests.Session,
            transports: Mapping[str, Transport]) -> dict[str, int]:
    """Claim and deliver due messages one at a time (a claim is leased for
    one delivery only), at most `batch` of them, each by the transport of
    its kind (else `post`): counts by the state each attempt left its
    message in."""
    worker = worker_name()
    counts = dict.fromkeys(STATES, 0)
    with db.connect(database_url, autocommit=True) as conn:
        for _ in range(config.outbox.batch):
            message = claim(conn, config.outbox)
            if message is None:
                break
            started = time.monotonic()
            try:
                status, error = transports.get(message["kind"], post)(message, config, settings, session)
            except Exception as exc:  # a transport's bug: logged with the message, which is retried, then dead
                LOGGER.exception("outbox transport of %s failed", message["kind"])
                status, error = None, f"{exc.__class__.__name__}: {exc}"
            state = outcome(conn, message, config.outbox, worker, started, status, error)
            counts[state] += 1
            log = LOGGER.info if state == "sent" else LOGGER.warning
            log("outbox message %s (%s %s, key %s) attempt %s: %s", message["id"], message["partner"],
                message["kind"], message["idempotency_key"], message["attempts"], error or state)
    return counts


# --- the admin's view ------------------------------------------------------

_LISTED = ("id", "partner", "kind", "idempotency_key", "url", "state", "attempts", "next_attempt_at",
           "last_error", "created", "sent_at")


def messages(conn: psycopg.Connection, state: str | None = None, partner: str | None = None,
             limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of messages, newest first, and how many match."""
    where = " WHERE (%(state)s::text IS NULL OR state = %(state)s) AND (%(partner)s::text IS NULL OR partner = %(partner)s)"
    values = {"state": state, "partner": partner, "limit": limit, "offset": offset}
    total = conn.execute("SELECT count(*) FROM integration.outbox" + where, values).fetchone()[0]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT {', '.join(_LISTED)} FROM integration.outbox" + where
                           + " ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s", values).fetchall()
    return rows, total


def message(conn: psycopg.Connection, message_id: int) -> dict[str, Any] | None:
    """One message with its body (as text) and its delivery log."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {', '.join(_LISTED)}, content_type, body FROM integration.outbox WHERE id = %s",
                          (message_id,)).fetchone()
        if row is None:
            return None
        row["body"] = bytes(row["body"]).decode("utf-8", errors="replace")
        row["deliveries"] = cur.execute(
            "SELECT attempt, at, worker, http_status, error, duration_ms FROM integration.delivery "
            "WHERE message_id = %s ORDER BY attempt, id", (message_id,)).fetchall()
    return row


def replay(conn: psycopg.Connection, message_id: int) -> str | None:
    """A dead message back to pending, due now, its attempts counted anew;
    its previous state when it was not dead (nothing changed), None when
    there is no such message."""
    row = conn.execute("SELECT state FROM integration.outbox WHERE id = %s FOR UPDATE", (message_id,)).fetchone()
    if row is None or row[0] != "dead":
        return row[0] if row else None
    conn.execute("UPDATE integration.outbox SET state = 'pending', attempts = 0, next_attempt_at = now() "
                 "WHERE id = %s", (message_id,))
    return "dead"


# --- the delivery worker ---------------------------------------------------


Task = Callable[[psycopg.Connection], object]


class Worker(threading.Thread):
    """Every poll_seconds: runs the periodic tasks (what partners must be
    sent, e.g. the province's record sync) and delivers due messages, in a
    daemon thread of each gateway worker process: wherever a gateway runs,
    the outbox drains, with no process of its own to supervise; SKIP LOCKED
    shares the work. A database that is away is waited out (logged once per
    outage)."""

    def __init__(self, settings: Settings, config: IntegrationConfig, transports: Mapping[str, Transport],
                 tasks: tuple[Task, ...] = ()) -> None:
        super().__init__(name="onemap-outbox", daemon=True)
        self.settings, self.config, self.transports, self.tasks = settings, config, transports, tasks
        self.stopping = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        failing = False
        while not self.stopping.wait(self.config.outbox.poll_seconds):
            try:
                if self.tasks:
                    with db.connect(self.settings.database_url, autocommit=True) as conn:
                        for task in self.tasks:
                            task(conn)
                while sum(deliver(self.settings.database_url, self.config, self.settings, session,
                                  self.transports).values()):
                    pass  # deliveries made: there may be more due at once
                failing = False
            except psycopg.Error as exc:
                if not failing:
                    LOGGER.warning("outbox worker: database unavailable, waiting: %s", exc)
                failing = True
            except Exception:  # a bug must not end the thread: the outbox would stop draining silently
                LOGGER.exception("outbox worker failed; going on")


_started: dict[int, Worker] = {}
_lock = threading.Lock()


def start_worker(settings: Settings, config: IntegrationConfig, transports: Mapping[str, Transport],
                 tasks: tuple[Task, ...] = ()) -> Worker:
    """The one delivery worker of this process (started once)."""
    with _lock:
        worker = _started.get(os.getpid())
        if worker is None or not worker.is_alive():
            worker = _started[os.getpid()] = Worker(settings, config, transports, tasks)
            worker.start()
        return worker
