"""成果上报 Upload of a published plan version to the province — the city's
master plan (unit: the city's code) or a township's plan (unit: the
township's XZQDM): the package as submitted (it passed the plan-package
check, so it is per the specification) and a manifest — unit code, plan
version, specification edition, and each file with its size and SHA-256 —
in one zip, sent to the province's upload endpoint through the outbox.
Each upload has a state: pending (queued), sent (taken, verdict to come),
accepted, or rejected with the province's reason; a verdict is recorded
with the `upload_hooks` of the province's settings in one transaction (the
township's submission status: processes.plan.township.on_upload_verdict).

The province answers the POST with JSON `{"status": "accepted"}` (or
`"received"`: it reviews later), or a 4xx with `{"reason": "…"}`."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import requests

from integration.config import IntegrationConfig
from integration.outbox import Delivered, Message, answer_error, enqueue, is_final, signed_post
from onemap.core import db
from onemap.core.components import load_object
from onemap.core.settings import Settings

PARTNER = "province"
MANIFEST = "manifest.json"
STATES = ("pending", "sent", "accepted", "rejected")


def package(conn: psycopg.Connection, submission_id: int, plan_version: str, unit_code: str) -> tuple[bytes, dict]:
    """The upload zip and its manifest, from the submission's kept package."""
    row = conn.execute("SELECT package_path, package_name, package_sha256, edition FROM plan.submission "
                       "WHERE id = %s", (submission_id,)).fetchone()
    if row is None:
        raise LookupError(f"no submission {submission_id}")
    path, name, sha, edition = row
    content = Path(path).read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha.strip():
        raise ValueError(f"the kept package of submission {submission_id} changed since it was checked")
    manifest = {"unit_code": unit_code, "plan_version": plan_version, "edition": edition,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "files": [{"name": name, "size": len(content), "sha256": digest}]}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr(name, content)
    return out.getvalue(), manifest


def queue(database_url: str, config: IntegrationConfig, submission_id: int, plan_version: str,
          unit_code: str | None = None) -> int | None:
    """An upload of the version of `unit_code` (default: the city's) into
    the outbox (with its row), in one transaction: its id, None when no
    upload endpoint is configured."""
    partner = config.partners.get(PARTNER) or {}
    if not partner.get("upload_url"):
        return None
    with db.connect(database_url) as conn:
        body, manifest = package(conn, submission_id, plan_version, unit_code or str(partner["unit_code"]))
        (upload_id,) = conn.execute("INSERT INTO integration.upload (plan_version, submission_id, manifest) "
                                    "VALUES (%s, %s, %s) RETURNING id",
                                    (plan_version, submission_id, json.dumps(manifest, ensure_ascii=False))
                                    ).fetchone()
        message_id = enqueue(conn, Message(PARTNER, "upload", f"upload:{upload_id}", partner["upload_url"], body,
                                           "application/zip"))
        conn.execute("UPDATE integration.upload SET message_id = %s WHERE id = %s", (message_id, upload_id))
    return upload_id


def on_plan_published(database_url: str, version: Any) -> None:
    """After-publish hook (config/plan.yaml): the new version goes up."""
    settings = Settings.from_env()
    queue(database_url, IntegrationConfig.of(settings), version.submission_id, version.plan_version)


def on_township_published(database_url: str, version: Any) -> None:
    """After-publish hook of township plans (config/plan.yaml township.hooks):
    the township's version goes up under the township's code."""
    settings = Settings.from_env()
    queue(database_url, IntegrationConfig.of(settings), version.submission_id, version.plan_version, version.xzqdm)


def send(message: dict[str, Any], config: IntegrationConfig, settings: Settings,
         session: requests.Session) -> Delivered:
    """POST the zip and record the province's verdict on the upload: 2xx
    with status accepted (or received: sent, verdict to come), or a final
    4xx with its reason (rejected); anything else is tried again."""
    try:
        response = signed_post(message, config, settings, session)
    except requests.RequestException as exc:
        return None, f"{exc.__class__.__name__}: {exc}"
    error = answer_error(response)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    if error is None:
        state, reason = ("accepted" if answer.get("status") == "accepted" else "sent"), None
    elif is_final(response.status_code):
        state, reason = "rejected", str(answer.get("reason") or error)
    else:
        return response.status_code, error
    with db.connect(settings.database_url) as conn, conn.transaction():
        upload = conn.execute(
            "UPDATE integration.upload SET state = %s, reason = %s, updated = now() WHERE message_id = %s "
            "RETURNING id, plan_version, manifest->>'unit_code', state, reason", (state, reason, message["id"])
        ).fetchone()
        if upload is not None:
            verdict = dict(zip(("id", "plan_version", "unit_code", "state", "reason"), upload, strict=True))
            for hook in (config.partners.get(PARTNER) or {}).get("upload_hooks") or ():
                load_object(hook)(conn, verdict)
    return response.status_code, error


_LISTED = ("id", "unit_code", "unit_name", "plan_version", "edition", "state", "reason", "message_id", "created",
           "updated")


def uploads(conn: psycopg.Connection, state: str | None = None, limit: int = 100,
            offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of uploads, newest first, each with the unit it is for (code
    and name), and how many match."""
    where = " WHERE (%(state)s::text IS NULL OR u.state = %(state)s)"
    values = {"state": state, "limit": limit, "offset": offset}
    total = conn.execute("SELECT count(*) FROM integration.upload u" + where, values).fetchone()[0]
    rows = conn.execute(
        "SELECT u.id, u.manifest->>'unit_code', x.xzqmc, u.plan_version, u.manifest->>'edition', u.state, "
        "u.reason, u.message_id, u.created, u.updated FROM integration.upload u "
        "LEFT JOIN base.xzq x ON x.xzqdm = u.manifest->>'unit_code'" + where
        + " ORDER BY u.id DESC LIMIT %(limit)s OFFSET %(offset)s", values).fetchall()
    return [dict(zip(_LISTED, row, strict=True)) for row in rows], total
