"""省级平台 The provincial One Map platform: our catalogue records pushed to
its CSW by CSW-T (Transaction Insert / Update / Delete, with OWSLib),
through the outbox.

`sync` compares the records of our catalogue (pycsw's repository, under our
identifier prefix but not `push_skip`: harvested and CSW-T records of
others, and our records of the province's own map layers, are not ours to
push) with what was last pushed (integration.province_record) and puts one
message per created, changed or removed record in the outbox, in one
transaction with the new pushed state. It is cheap (one statement) and
runs in the outbox worker every `sync_seconds`, so a publish, a reload or a
removal reaches the province without a hook in the code that made it, and
changes made while no gateway ran are pushed when one starts."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import psycopg
import requests
from lxml import etree
from owslib.catalogue.csw2 import CatalogueServiceWeb
from owslib.ows import ExceptionReport
from psycopg import sql

from integration.config import IntegrationConfig
from integration.outbox import Delivered, Message, enqueue
from onemap.core.settings import Settings

PARTNER = "province"
_GMD = "gmd:MD_Metadata"
_CSW = "http://www.opengis.net/cat/csw/2.0.2"


def settings_of(config: IntegrationConfig) -> dict[str, Any] | None:
    """The province's settings when pushing is configured (a csw_url)."""
    partner = config.partners.get(PARTNER) or {}
    return partner if partner.get("csw_url") else None


def sync(conn: psycopg.Connection, config: IntegrationConfig) -> dict[str, int]:
    """Queue the pushes our catalogue's changes call for: counts by kind."""
    partner = settings_of(config)
    counts = {"csw-insert": 0, "csw-update": 0, "csw-delete": 0}
    if partner is None:
        return counts
    schema, _, table = partner.get("records_table", "catalogue.records").partition(".")
    records = sql.Identifier(schema, table)
    with conn.transaction():
        # one sync at a time across all workers; the others have nothing to add
        if not conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('onemap.province.sync'))").fetchone()[0]:
            return counts
        if conn.execute("SELECT to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0] is None:
            return counts  # no catalogue (yet)
        changes = conn.execute(sql.SQL(
            # pycsw keeps a record that came by CSW-T as the text form of its bytes (\x3c…): decoded here
            "WITH stored AS (SELECT identifier, CASE WHEN starts_with(xml, '\\x') "
            "                THEN convert_from(decode(substr(xml, 3), 'hex'), 'UTF8') ELSE xml END AS xml "
            "                FROM {records} WHERE starts_with(identifier, %(prefix)s) "
            "                AND (%(skip)s::text IS NULL OR NOT starts_with(identifier, %(skip)s))), "
            "ours AS (SELECT identifier, xml, encode(sha256(convert_to(xml, 'UTF8')), 'hex') AS digest FROM stored) "
            "SELECT o.identifier, o.xml, o.digest, CASE WHEN p.identifier IS NULL THEN 'csw-insert' "
            "       ELSE 'csw-update' END FROM ours o LEFT JOIN integration.province_record p USING (identifier) "
            "WHERE p.sha256 IS DISTINCT FROM o.digest "
            "UNION ALL "
            "SELECT p.identifier, NULL, p.sha256, 'csw-delete' FROM integration.province_record p "
            "WHERE NOT EXISTS (SELECT 1 FROM ours o WHERE o.identifier = p.identifier)").format(records=records),
            {"prefix": partner["push_prefix"], "skip": partner.get("push_skip") or None}).fetchall()
        for identifier, xml, digest, kind in changes:
            body = (xml or identifier).encode("utf-8")
            content_type = "application/xml" if xml else "text/plain"
            enqueue(conn, Message(PARTNER, kind, f"{identifier}:{kind}:{digest}", partner["csw_url"], body,
                                  content_type))
            if kind == "csw-delete":
                conn.execute("DELETE FROM integration.province_record WHERE identifier = %s", (identifier,))
            else:
                conn.execute("INSERT INTO integration.province_record (identifier, sha256) VALUES (%s, %s) "
                             "ON CONFLICT (identifier) DO UPDATE SET sha256 = excluded.sha256, pushed_at = now()",
                             (identifier, digest))
            counts[kind] += 1
    return counts


def sync_task(config: IntegrationConfig) -> Callable[[psycopg.Connection], object]:
    """`sync` for the outbox worker, at most every `sync_seconds` (it hashes
    every record of ours: cheap for hundreds, not to repeat every second for
    a hundred thousand)."""
    every = float((config.partners.get(PARTNER) or {}).get("sync_seconds", 10))
    last = [-math.inf]

    def task(conn: psycopg.Connection) -> object:
        if time.monotonic() - last[0] < every:
            return None
        last[0] = time.monotonic()
        return sync(conn, config)
    return task


def send_csw(message: dict[str, Any], config: IntegrationConfig, settings: Settings,
             session: requests.Session) -> Delivered:
    """One CSW-T transaction. Insert and Update both end with the record as
    sent, whether the province had it or not, so a message delivered again
    (its success unheard of) changes nothing; Delete of a record already gone
    deletes nothing. An ExceptionReport is an error with its text."""
    csw = CatalogueServiceWeb(message["url"], skip_caps=True, timeout=config.outbox.timeout_seconds,
                              headers={"Idempotency-Key": message["idempotency_key"]})
    body = bytes(message["body"])
    try:
        if message["kind"] == "csw-delete":
            csw.transaction(ttype="delete", typename="csw:Record",
                            cql=f"dc:identifier = '{_quoted(body.decode('utf-8'))}'")
            return 200, None
        # the likely action first (a new record: Insert; a changed one: Update), the other when it does nothing
        first, then = ("insert", "update") if message["kind"] == "csw-insert" else ("update", "insert")
        if not _transact(csw, first, body):
            if not _transact(csw, then, body):
                return None, f"CSW-T {first} and {then} changed nothing: {csw.response[:300]!r}"
    except Exception as exc:  # OWSLib raises ExceptionReport, RuntimeError, requests' errors, XML errors
        return None, f"{exc.__class__.__name__}: {str(exc)[:500]}"
    return 200, None


def _transact(csw: CatalogueServiceWeb, action: str, record: bytes) -> bool:
    """Whether the Insert or Update changed a record. An Insert the province
    refuses (it has the record: pycsw says "duplicate key", others say it
    otherwise) is no change: the Update is tried, and fails if it is not that."""
    try:
        csw.transaction(ttype=action, typename=_GMD, record=record)
    except ExceptionReport:
        if action == "insert":
            return False
        raise
    return bool(_total(csw.response, "totalInserted" if action == "insert" else "totalUpdated"))


def _total(response: bytes, name: str) -> int:
    """A count of the TransactionSummary (OWSLib's own reading of it does not
    find the element)."""
    found = etree.fromstring(response).find(f"{{{_CSW}}}TransactionSummary/{{{_CSW}}}{name}")
    return int(found.text) if found is not None and found.text else 0


def _quoted(text: str) -> str:
    return text.replace("'", "''")


