"""乡镇级国土空间总体规划 township plans: a township package, checked by the
township edition of the package specification (whose INDICATOR-ALLOCATION
rule holds the township's binding indicators against the city's
allocation), is published as a version of that township only
(plan.township_version); the city's master plan versions and the other
townships are untouched. Each township has a submission status (编制中,
已质检, 已上报, 已批复), changed with an audit record:

- a publish sets 已质检 (the version passed its check and is stored) and
  runs the township hooks of config/plan.yaml, among them the upload of its
  package to the province (成果上报, integration.upload);
- the province's verdict on that upload (on_upload_verdict, a hook of
  config/integration.yaml) sets 已上报 when it takes the package, or leaves
  the township at 已质检 with the province's reason as the note when it
  rejects it;
- 已批复 is the approving government's act: a planner records it with
  township-status (the approval's reference as the note); no verdict of the
  province's platform changes an approved township.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.db import connect
from onemap.core.errors import invalid
from onemap.core.inforce import in_force
from onemap.core.settings import config_dir, load_yaml
from processes.base import Progress, quiet
from processes.plan.results import _insert_from_staging, keep_package, record_submission, run_hooks
from processes.qc.package import open_package
from processes.qc.record import CheckRecord, check_package
from processes.qc.spec import editions
from processes.qc.staging import Staging

STATUSES = ("编制中", "已质检", "已上报", "已批复")
STATUS_EN = {"编制中": "drafting", "已质检": "checked", "已上报": "submitted", "已批复": "approved"}
TOWNSHIP_LOCK = 5_000_502  # pg advisory lock: one township publish at a time
# who changes a status on the province's verdict (the audit trail's actor)
PROVINCE = Principal("partner:province", "partner")


@dataclass(frozen=True)
class TownshipSettings:
    edition: str
    layers: dict[str, str]   # package layer -> schema.table
    hooks: tuple[str, ...] = ()  # "module:function"(database_url, TownshipVersion) after a publish commits


def township_settings(path: Path | None = None) -> TownshipSettings:
    data = load_yaml(path or config_dir() / "plan.yaml")["township"]
    return TownshipSettings(edition=str(data["edition"]), layers={k.upper(): v for k, v in data["layers"].items()},
                            hooks=tuple(data.get("hooks") or ()))


def check_config(directory: Path) -> TownshipSettings:
    """配置校验: the township section of plan.yaml names an edition of the
    specification in the same configuration directory, and package layers
    that edition knows (config/components.yaml's config_checks)."""
    settings = township_settings(directory / "plan.yaml")
    spec = editions.__wrapped__(directory=directory / "standards").get(settings.edition)
    if spec is None:
        raise ValueError(f"{directory / 'plan.yaml'}: township.edition {settings.edition} is not an edition "
                         "of the package specification")
    unknown = [name for name in settings.layers if spec.layer(name) is None]
    if unknown:
        raise ValueError(f"{directory / 'plan.yaml'}: township.layers {unknown} are not layers of {spec.edition}")
    return settings


@dataclass(frozen=True)
class TownshipVersion:
    plan_version: str
    xzqdm: str
    title: str
    valid_from: dt.datetime
    previous: str | None
    layers: dict[str, int]
    qc_run: int
    submission_id: int  # the kept package (plan.submission), what goes up to the province

    def as_dict(self) -> dict[str, Any]:
        return {"plan_version": self.plan_version, "xzqdm": self.xzqdm, "title": self.title,
                "valid_from": self.valid_from.isoformat(), "previous": self.previous,
                "features": self.layers, "qc_run": self.qc_run, "submission": self.submission_id}


def check_township(database_url: str, package_file: Path, principal: Principal,
                   progress: Progress = quiet) -> CheckRecord:
    """成果质检 by the township edition, recorded like every check."""
    return check_package(database_url, package_file, principal, edition=township_settings().edition,
                         progress=progress)


def publish_township(database_url: str, package_file: Path, plan_version: str, valid_from: dt.datetime,
                     principal: Principal, title: str | None = None,
                     progress: Progress = quiet) -> tuple[TownshipVersion, CheckRecord]:
    """Check a township package and, when it passes, publish it as a version
    of its township in ONE transaction: the township's version in force
    ends when this one takes effect; the package is kept (plan.submission);
    its status becomes 已质检. Then the township hooks run (the upload)."""
    if valid_from.tzinfo is None:
        raise invalid("valid_from", "valid_from 必须带时区", "valid_from must carry a time zone")
    settings = township_settings()
    record = check_township(database_url, package_file, principal, progress)
    if not record.result.passed:
        raise invalid("package", f"乡镇规划数据包未通过质检（{record.result.errors} 个错误，质检记录 {record.run_id}），不能发布",
                      f"The township package failed its check ({record.result.errors} errors, check run "
                      f"{record.run_id}): it cannot be published", 409)
    spec = editions()[settings.edition]
    staging = Staging.create(database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="onemap-township-") as tmp:
            staging.load(open_package(package_file, Path(tmp)), spec, lambda m: progress(70, m))
            progress(85, "写入乡镇规划版本 / writing the township plan version")
            kept = keep_package(package_file, record)
            version = _publish_transaction(staging, settings, record, kept, plan_version,
                                           title or package_file.stem, valid_from, principal)
    finally:
        staging.drop()
    run_hooks(database_url, version, list(settings.hooks))
    return version, record


def _package_unit(staging: Staging) -> str:
    xzq = staging.layers["XZQ"]
    codes = [r[0] for r in staging.conn.execute(sql.SQL("SELECT DISTINCT btrim({c}::text) FROM {t}").format(
        c=sql.Identifier(xzq.columns["XZQDM"].name), t=staging.ident(xzq.table)))]
    if len(codes) != 1:
        raise invalid("package", f"乡镇规划数据包的 XZQ 应只有一个乡镇，实有 {len(codes)} 个",
                      f"A township package's XZQ holds one township, not {len(codes)}")
    return codes[0]


def _publish_transaction(staging: Staging, settings: TownshipSettings, record: CheckRecord, kept: Path,
                         plan_version: str, title: str, valid_from: dt.datetime,
                         principal: Principal) -> TownshipVersion:
    unit = _package_unit(staging)
    with connect(staging.database_url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (TOWNSHIP_LOCK,))
        if conn.execute("SELECT 1 FROM base.xzq WHERE xzqdm = %s AND xzqjb = '乡'", (unit,)).fetchone() is None:
            raise invalid("package", f"{unit} 不是本市的乡镇", f"{unit} is not a township of the city", 422)
        if conn.execute("SELECT 1 FROM plan.township_version WHERE plan_version = %s", (plan_version,)).fetchone():
            raise invalid("plan_version", f"乡镇规划版本 {plan_version} 已存在",
                          f"Township plan version {plan_version} exists already", 409)
        current = conn.execute("SELECT plan_version, valid_from FROM plan.township_version "
                               "WHERE xzqdm = %s AND valid_to IS NULL", (unit,)).fetchone()
        if current and valid_from <= current[1]:
            raise invalid("valid_from", f"生效时间应晚于该乡镇现行版本 {current[0]} 的生效时间 {current[1].isoformat()}",
                          f"valid_from must be after {current[1].isoformat()}, when {current[0]} took effect")
        submission = record_submission(conn, title, record.result.package_name, kept, record, principal,
                                       published_as=plan_version)
        conn.execute("INSERT INTO plan.township_version (plan_version, xzqdm, title, valid_from, qc_run, "
                     "package_sha256, published_by, submission_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     (plan_version, unit, title, valid_from, record.run_id, record.result.package_sha256,
                      principal.name, submission))
        counts = {}
        for name, table in settings.layers.items():
            target = _Table(*table.split("."))
            staged = staging.layers.get(name)
            counts[name] = (_insert_from_staging(conn, staging, staged, target, plan_version, valid_from)
                            if staged is not None else 0)
            conn.execute(sql.SQL("UPDATE {t} SET valid_to = %s WHERE valid_to IS NULL AND plan_version IN "
                                 "(SELECT plan_version FROM plan.township_version WHERE xzqdm = %s "
                                 "AND plan_version <> %s)").format(t=sql.Identifier(*table.split("."))),
                         (valid_from, unit, plan_version))
        conn.execute("UPDATE plan.township_version SET valid_to = %s WHERE xzqdm = %s AND valid_to IS NULL "
                     "AND plan_version <> %s", (valid_from, unit, plan_version))
        audit.record(conn, principal, "township-publish", f"township_version/{plan_version}", 200,
                     record.result.package_sha256,
                     detail={"xzqdm": unit, "valid_from": valid_from.isoformat(), "layers": counts,
                             "qc_run": record.run_id, "submission": submission,
                             "previous": current[0] if current else None})
        _write_status(conn, unit, "已质检", f"质检通过，发布为乡镇规划版本 {plan_version}", principal)
    return TownshipVersion(plan_version, unit, title, valid_from, current[0] if current else None, counts,
                           record.run_id, submission)


@dataclass(frozen=True)
class _Table:
    """A township table, as the master plan's loader (`_insert_from_staging`)
    addresses a registry layer's table."""

    schema: str
    table_name: str


# --- submission status (报批状态) -----------------------------------------------------------------


def set_status(database_url: str, xzqdm: str, status: str, note: str, principal: Principal) -> dict[str, Any]:
    """Change a township's submission status (audited); a bad status or an
    unknown township is a bilingual 400 / 404 and changes nothing."""
    if status not in STATUSES:
        raise invalid("status", f"状态“{status}”无效，应为：{'、'.join(STATUSES)}",
                      f"Unknown status {status!r}: one of {', '.join(STATUS_EN[s] + ' ' + s for s in STATUSES)}")
    with connect(database_url) as conn, conn.transaction():
        if conn.execute("SELECT 1 FROM base.xzq WHERE xzqdm = %s AND xzqjb = '乡'", (xzqdm,)).fetchone() is None:
            raise invalid("xzqdm", f"乡镇 {xzqdm} 不存在", f"No township {xzqdm}", 404)
        _write_status(conn, xzqdm, status, note, principal)
    return statuses(database_url, xzqdm)[0]


def _write_status(conn: Any, xzqdm: str, status: str, note: str, principal: Principal) -> None:
    before = conn.execute("SELECT status FROM plan.township_status WHERE xzqdm = %s", (xzqdm,)).fetchone()
    conn.execute("""
        INSERT INTO plan.township_status (xzqdm, status, note, changed_by) VALUES (%s, %s, %s, %s)
        ON CONFLICT (xzqdm) DO UPDATE SET status = EXCLUDED.status, note = EXCLUDED.note,
            changed_by = EXCLUDED.changed_by, changed_at = now()""", (xzqdm, status, note, principal.name))
    audit.record(conn, principal, "township-status", f"township/{xzqdm}", 200,
                 detail={"from": before[0] if before else STATUSES[0], "to": status, "note": note})


def on_upload_verdict(conn: Any, upload: dict[str, Any]) -> None:
    """The province's verdict on an upload (hook of config/integration.yaml
    `upload_hooks`, in the transaction that records it): for the newest
    version of a township not yet approved, taken (sent, accepted) →
    已上报; rejected → 已质检 with the province's reason as the note.
    Uploads of the city's plan and of superseded township versions change
    no status."""
    row = conn.execute("""
        SELECT v.xzqdm, coalesce(s.status, %s) FROM plan.township_version v
        LEFT JOIN plan.township_status s ON s.xzqdm = v.xzqdm
        WHERE v.plan_version = %s AND v.xzqdm = %s
          AND v.plan_version = (SELECT n.plan_version FROM plan.township_version n
                                WHERE n.xzqdm = v.xzqdm ORDER BY n.valid_from DESC LIMIT 1)""",
                       (STATUSES[0], upload["plan_version"], upload["unit_code"])).fetchone()
    if row is None or row[1] == "已批复":
        return
    if upload["state"] == "rejected":
        status, note = "已质检", f"省级平台退回（上报 {upload['id']}）/ rejected by the province: {upload['reason']}"
    else:
        status, note = "已上报", f"已上报省级平台（上报 {upload['id']}，{upload['state']}）/ taken by the province"
    _write_status(conn, row[0], status, note, PROVINCE)


def statuses(database_url: str, xzqdm: str | None = None) -> list[dict[str, Any]]:
    """Every township (or one) with its status and the township plan
    version in force."""
    with connect(database_url) as conn:
        rows = conn.execute(f"""
            SELECT x.xzqdm, x.xzqmc, coalesce(s.status, %(draft)s), s.note, s.changed_by, s.changed_at,
                   v.plan_version, v.valid_from,
                   (SELECT count(*) FROM plan.township_version a WHERE a.xzqdm = x.xzqdm)
            FROM base.xzq x
            LEFT JOIN plan.township_status s ON s.xzqdm = x.xzqdm
            LEFT JOIN plan.township_version v ON v.xzqdm = x.xzqdm AND {in_force(alias='v')}
            WHERE x.xzqjb = '乡' AND (%(unit)s::text IS NULL OR x.xzqdm = %(unit)s)
            ORDER BY x.xzqdm""", {"draft": STATUSES[0], "unit": xzqdm}).fetchall()
    if xzqdm is not None and not rows:
        raise invalid("xzqdm", f"乡镇 {xzqdm} 不存在", f"No township {xzqdm}", 404)
    return [{"xzqdm": r[0], "xzqmc": r[1], "status": r[2], "status_en": STATUS_EN[r[2]], "note": r[3] or "",
             "changed_by": r[4], "changed_at": r[5].isoformat() if r[5] else None,
             "plan_version": r[6], "valid_from": r[7].isoformat() if r[7] else None, "versions": r[8]}
            for r in rows]
