"""Submissions and publishing (成果提交、发布), and the history of plan
versions. Every submission and publish is recorded with who and when
(plan.submission, plan.plan_version, ops.audit); the check a submission
runs is recorded by processes.qc.record.

A publish loads a clean submission into the plan tables in ONE transaction:
the new version's features are inserted, the version in force is closed
(valid_to = the new valid_from) for every plan layer, layers the package
does not carry are carried forward into the new version, so every version
is a complete plan. Killed half-way, nothing of it remains.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.db import connect
from onemap.core.errors import invalid
from onemap.core.inforce import in_force
from onemap.core.registry import Layer, load_layers
from onemap.core.settings import Settings, config_dir, load_yaml
from processes.base import Progress, quiet
from processes.qc.package import open_package
from processes.qc.record import CheckRecord, check_package
from processes.qc.run import choose_edition, sha256_file
from processes.qc.staging import Staging

LOG = logging.getLogger(__name__)
PUBLISH_LOCK = 5_000_501  # pg advisory lock: one publish at a time
META_COLUMNS = ("id", "plan_version", "valid_from", "valid_to", "geom")


def submit(database_url: str, package_file: Path, title: str, principal: Principal,
           edition: str | None = None, settings: Settings | None = None,
           progress: Progress = quiet) -> tuple[int, CheckRecord]:
    """成果提交: keep the package, check it, record both. Returns the
    submission id and the check."""
    record = check_package(database_url, package_file, principal, edition=edition, progress=progress)
    kept = keep_package(package_file, record, settings)
    with connect(database_url) as conn:
        sid = record_submission(conn, title, package_file.name, kept, record, principal)
        audit.record(conn, principal, "plan-submit", f"submission/{sid}", 200, record.result.package_sha256,
                     detail={"title": title, "passed": record.result.passed, "qc_run": record.run_id})
    return sid, record


def keep_package(package_file: Path, record: CheckRecord, settings: Settings | None = None) -> Path:
    """The package as checked, kept under var/submissions by its SHA-256
    (what a publish loads again and an upload to the province sends)."""
    store = (settings or Settings.from_env()).var_dir / "submissions"
    store.mkdir(parents=True, exist_ok=True)
    kept = store / f"{record.result.package_sha256}{package_file.suffix.lower() or '.gpkg'}"
    shutil.copyfile(package_file, kept)
    return kept


def record_submission(conn: Any, title: str, package_name: str, kept: Path, record: CheckRecord,
                      principal: Principal, published_as: str | None = None) -> int:
    """A plan.submission row for a kept package and its check (in the
    caller's transaction): its id."""
    sid = conn.execute(
        "INSERT INTO plan.submission (title, package_name, package_sha256, package_path, edition, passed, "
        "submitted_by, submitted_role, published_as) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (title, package_name, record.result.package_sha256, str(kept), record.result.spec.edition,
         record.result.passed, principal.name, principal.role, published_as)).fetchone()[0]
    conn.execute("UPDATE plan.qc_run SET submission_id = %s WHERE id = %s", (sid, record.run_id))
    return sid



@dataclass(frozen=True)
class PublishedVersion:
    plan_version: str
    title: str
    valid_from: dt.datetime
    previous: str | None
    layers: dict[str, int]          # registry layer id -> features in the new version
    submission_id: int


def publish(database_url: str, submission_id: int, plan_version: str, valid_from: dt.datetime,
            principal: Principal, title: str | None = None, progress: Progress = quiet) -> PublishedVersion:
    """成果发布: a submission that passed its check becomes the plan in force."""
    if valid_from.tzinfo is None:
        raise invalid("valid_from", "valid_from 必须带时区", "valid_from must carry a time zone")
    with connect(database_url) as conn:
        row = conn.execute("SELECT title, package_path, package_sha256, edition, passed, published_as "
                           "FROM plan.submission WHERE id = %s", (submission_id,)).fetchone()
    if row is None:
        raise invalid("submission", f"提交记录 {submission_id} 不存在", f"No submission {submission_id}", 404)
    sub_title, path, sha, edition, passed, published_as = row
    if not passed:
        raise invalid("submission", f"提交 {submission_id} 未通过质检，不能发布", f"Submission {submission_id} failed its check: "
                   "it cannot be published", 409)
    if published_as:
        raise invalid("submission", f"提交 {submission_id} 已发布为 {published_as}", f"Submission {submission_id} is already "
                   f"published as {published_as}", 409)
    package_file = Path(path)
    if not package_file.is_file() or sha256_file(package_file) != sha:
        raise invalid("submission", "提交的数据包文件已丢失或被改动", "The submitted package file is gone or changed", 409)
    registry = {layer.id: layer for layer in load_layers() if layer.versioned}
    staging = Staging.create(database_url)
    try:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="onemap-publish-") as tmp:
            package = open_package(package_file, Path(tmp))
            spec = choose_edition(package, edition)
            staging.load(package, spec, lambda m: progress(20, m))
            progress(60, "写入规划版本 / writing the plan version")
            result = _publish_transaction(staging, spec, registry, submission_id, plan_version,
                                          title or sub_title, valid_from, principal)
    finally:
        staging.drop()
    run_hooks(database_url, result, publish_hooks())
    return result


def _publish_transaction(staging: Staging, spec: Any, registry: dict[str, Layer], submission_id: int,
                         plan_version: str, title: str, valid_from: dt.datetime,
                         principal: Principal) -> PublishedVersion:
    with connect(staging.database_url) as conn, conn.transaction():
        previous = open_version(conn, plan_version, title, valid_from, principal, submission_id)
        counts = {}
        by_target = {la.spec.publish: la for la in staging.layers.values() if la.spec and la.spec.publish}
        for layer_id, layer in registry.items():
            staged = by_target.get(layer_id)
            counts[layer_id] = (_insert_from_staging(conn, staging, staged, layer, plan_version, valid_from)
                                if staged is not None else carry_forward(conn, layer, plan_version, valid_from))
        close_previous(conn, registry.values(), plan_version, valid_from)
        conn.execute("UPDATE plan.submission SET published_as = %s WHERE id = %s", (plan_version, submission_id))
        audit.record(conn, principal, "plan-publish", f"plan_version/{plan_version}", 200,
                     detail={"submission": submission_id, "valid_from": valid_from.isoformat(), "layers": counts,
                             "previous": previous})
    return PublishedVersion(plan_version, title, valid_from, previous, counts, submission_id)


def open_version(conn: Any, plan_version: str, title: str, valid_from: dt.datetime, principal: Principal,
                 submission_id: int | None = None) -> str | None:
    """The plan.plan_version row of a new version, one publish at a time
    (in the caller's transaction); the version in force before it."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
    if conn.execute("SELECT 1 FROM plan.plan_version WHERE plan_version = %s", (plan_version,)).fetchone():
        raise invalid("plan_version", f"规划版本 {plan_version} 已存在", f"Plan version {plan_version} exists already", 409)
    current = conn.execute("SELECT plan_version, valid_from FROM plan.plan_version WHERE valid_to IS NULL "
                           "ORDER BY valid_from DESC LIMIT 1").fetchone()
    if current and valid_from <= current[1]:
        raise invalid("valid_from", f"生效时间应晚于现行版本 {current[0]} 的生效时间 {current[1].isoformat()}",
                      f"valid_from must be after {current[1].isoformat()}, when {current[0]} took effect")
    conn.execute("INSERT INTO plan.plan_version (plan_version, title, valid_from, published_by, submission_id) "
                 "VALUES (%s, %s, %s, %s, %s)", (plan_version, title, valid_from, principal.name, submission_id))
    return current[0] if current else None


def carry_forward(conn: Any, layer: Layer, plan_version: str, valid_from: dt.datetime,
                  changed: Mapping[str, sql.Composable] | None = None) -> int:
    """The layer's open-ended features copied into the new version with new
    ids (a version is a whole plan); `changed` gives the SQL expression of a
    column that differs in the new version (规划修改)."""
    table = sql.Identifier(layer.schema, layer.table_name)
    columns = _data_columns(conn, layer)
    values = [(changed or {}).get(c, sql.Identifier(c)) for c in columns]
    return conn.execute(sql.SQL("""
        INSERT INTO {t} (id, {cols}, plan_version, valid_from, valid_to, geom)
        SELECT (SELECT coalesce(max(id), 0) FROM {t}) + row_number() OVER (ORDER BY id),
               {values}, %s, %s, NULL, geom
        FROM {t} WHERE valid_to IS NULL""").format(
        t=table, cols=sql.SQL(", ").join(map(sql.Identifier, columns)), values=sql.SQL(", ").join(values)),
        (plan_version, valid_from)).rowcount


def close_previous(conn: Any, layers: Iterable[Layer], plan_version: str, valid_from: dt.datetime) -> None:
    """The version in force before ends when the new one takes effect, in
    every plan layer and in plan.plan_version."""
    for layer in layers:
        conn.execute(sql.SQL("UPDATE {t} SET valid_to = %s WHERE valid_to IS NULL AND plan_version <> %s").format(
            t=sql.Identifier(layer.schema, layer.table_name)), (valid_from, plan_version))
    conn.execute("UPDATE plan.plan_version SET valid_to = %s WHERE valid_to IS NULL AND plan_version <> %s",
                 (valid_from, plan_version))


def _data_columns(conn: Any, layer: Layer) -> list[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                        "AND table_name = %s ORDER BY ordinal_position",
                        (layer.schema, layer.table_name)).fetchall()
    return [r[0] for r in rows if r[0] not in META_COLUMNS]


def _insert_from_staging(conn: Any, staging: Staging, staged: Any, layer: Layer, plan_version: str,
                         valid_from: dt.datetime) -> int:
    """The package layer's features into the plan table, columns matched
    by name; `bsm` and `xzqdm` made up when the package has none."""
    columns = _data_columns(conn, layer)
    values = []
    for column in columns:
        source = staged.columns.get(column.upper())
        if source is not None:
            values.append(sql.SQL("btrim(t.{c}::text)").format(c=sql.Identifier(source.name))
                          if column != "mj" else sql.SQL("t.{c}::float8").format(c=sql.Identifier(source.name)))
        elif column == "xzqdm":  # the township the feature lies in
            values.append(sql.SQL(
                "coalesce((SELECT x.xzqdm FROM base.xzq x WHERE x.xzqjb = '乡' AND "
                "ST_Intersects(x.geom, ST_PointOnSurface(t.geom)) LIMIT 1), "
                "(SELECT xzqdm FROM base.xzq WHERE xzqjb = '市' LIMIT 1))"))
        elif column == "bsm":
            values.append(sql.SQL("{v} || '-' || t.fid").format(v=sql.Literal(plan_version)))
        else:
            values.append(sql.SQL("''"))
    return conn.execute(sql.SQL("""
        INSERT INTO {target} (id, {cols}, plan_version, valid_from, valid_to, geom)
        SELECT (SELECT coalesce(max(id), 0) FROM {target}) + row_number() OVER (ORDER BY t.fid),
               {values}, %s, %s, NULL, ST_Multi(ST_CollectionExtract(t.geom, 3))
        FROM {source} t""").format(
        target=sql.Identifier(layer.schema, layer.table_name),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        values=sql.SQL(", ").join(values), source=staging.ident(staged.table)),
        (plan_version, valid_from)).rowcount


def publish_hooks(path: Path | None = None) -> list[str]:
    return load_yaml(path or config_dir() / "plan.yaml")["publish"].get("hooks") or []


def run_hooks(database_url: str, version: Any, hooks: list[str]) -> list[str]:
    """Call the configured after-publish hooks (catalogue records, the
    upload to the province, ...) with the published version (a
    PublishedVersion, or a township's). A hook whose module is not installed
    is skipped; one that fails is logged: the publish has committed and
    stands."""
    ran = []
    for hook in hooks:
        module_name, _, function = hook.partition(":")
        try:
            target: Callable[[str, Any], Any] = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError):
            LOG.warning("publish hook %s is not installed: skipped", hook)
            continue
        try:
            target(database_url, version)
            ran.append(hook)
        except Exception:  # the publish stands whatever a hook does
            LOG.exception("publish hook %s failed", hook)
    return ran


def history(database_url: str) -> list[dict[str, Any]]:
    """规划版本历史: every version with its validity, who published it and
    its features per layer."""
    registry = [layer for layer in load_layers() if layer.versioned]
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT v.plan_version, v.title, v.valid_from, v.valid_to, v.published_at, v.published_by, "
            f"v.submission_id, {in_force(alias='v')} FROM plan.plan_version v ORDER BY v.valid_from").fetchall()
        counts: dict[str, dict[str, int]] = {}
        for layer in registry:
            for version, n in conn.execute(sql.SQL("SELECT plan_version, count(*) FROM {} GROUP BY 1").format(
                    sql.Identifier(layer.schema, layer.table_name))):
                counts.setdefault(version, {})[layer.id] = n
    return [{"plan_version": r[0], "title": r[1], "valid_from": r[2].isoformat(),
             "valid_to": r[3].isoformat() if r[3] else None, "in_force": r[7],
             "published_at": r[4].isoformat(), "published_by": r[5], "submission_id": r[6],
             "features": counts.get(r[0], {})} for r in rows]
