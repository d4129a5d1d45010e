"""配置管理 Configuration management: a change to a file of config/ (layers,
rule sets, specifications, processes, roles …) is checked with the whole
directory as it would be after the change, stored as a new version in
ops.config_version, audited, and written in place — or refused with nothing
written. Any earlier version, by number or label, can be made current again
the same way (a rollback is a new version with old content, so history only
grows).

Applying a written change to running services (regenerated service
configuration, a graceful gateway reload) belongs to the assembly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import yaml

from onemap.core import audit
from onemap.core.access import AccessPolicy
from onemap.core.auth import Principal
from onemap.core.components import Components, load_object
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.registry import load_layers, load_processes
from onemap.core.settings import load_yaml

SUFFIXES = (".yaml", ".yml", ".csv")
ConfigCheck = Callable[[Path], object]


@dataclass(frozen=True)
class ConfigVersion:
    path: str
    version: int
    label: str | None
    sha256: str
    comment: str
    author: str
    at: datetime

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "version": self.version, "label": self.label, "sha256": self.sha256,
                "comment": self.comment, "author": self.author, "at": self.at.isoformat()}


def relative_path(config_dir: Path, path: str) -> str:
    """`path` as a managed file of the configuration directory, or a 400:
    no way out of the directory, only YAML and CSV."""
    candidate = (config_dir / path).resolve()
    if (not path or candidate == config_dir or config_dir not in candidate.parents
            or candidate.suffix not in SUFFIXES or any(part.startswith(".") for part in Path(path).parts)):
        raise invalid("path", f"配置文件路径无效：{path}（应为配置目录内的 YAML 或 CSV 文件）",
                      f"Invalid configuration path {path!r}: a YAML or CSV file inside the configuration directory")
    return candidate.relative_to(config_dir).as_posix()


def managed_files(config_dir: Path) -> list[str]:
    return sorted(p.relative_to(config_dir).as_posix() for p in config_dir.rglob("*")
                  if p.is_file() and p.suffix in SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(config_dir).parts))


def _check_gateway(directory: Path) -> object:
    return AccessPolicy.from_config(load_yaml(directory / "gateway.yaml"), load_layers(directory / "layers.yaml"),
                                    load_processes(directory / "processes.yaml"))


def checks(config_dir: Path) -> list[tuple[str, ConfigCheck]]:
    """What a candidate directory must pass: the core's own files, then the
    `config_checks` each domain declares in components.yaml."""
    components = Components.load(config_dir)
    return [("layers.yaml", lambda d: load_layers(d / "layers.yaml")),
            ("processes.yaml", lambda d: load_processes(d / "processes.yaml")),
            ("gateway.yaml", _check_gateway),
            ("components.yaml", Components.load)] + [
        (name, load_object(reference)) for name, reference in components.config_checks]


def _parse_error(path: str, content: bytes) -> Problem | None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(400, "InvalidParameterValue", f"{path} 不是 UTF-8 文本（第 {exc.start} 字节）",
                       f"{path} is not UTF-8 text (byte {exc.start})", field=path)
    if path.endswith((".yaml", ".yml")):
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else ""
            where_en = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            return Problem(400, "InvalidParameterValue", f"{path} 不是有效的 YAML{where}：{exc}",
                           f"{path} is not valid YAML{where_en}: {exc}", field=path)
    return None


def validate(config_dir: Path, path: str, content: bytes,
             extra_checks: Iterable[tuple[str, ConfigCheck]] | None = None) -> None:
    """Raise a bilingual 400 naming the file and the check that fails when
    the directory with `content` at `path` would not load."""
    problem = _parse_error(path, content)
    if problem is not None:
        raise OneMapError(problem)
    with tempfile.TemporaryDirectory(prefix="onemap-config-") as tmp:
        candidate = Path(tmp) / "config"
        shutil.copytree(config_dir, candidate)
        (candidate / path).parent.mkdir(parents=True, exist_ok=True)
        (candidate / path).write_bytes(content)
        for name, check in (list(extra_checks) if extra_checks is not None else checks(config_dir)):
            try:
                check(candidate)
            except Exception as exc:  # any loader's error is the operator's to read
                raise invalid(path, f"修改后配置无法通过“{name}”校验：{exc}",
                              f"With this change the configuration fails the check '{name}': {exc}") from exc


def _row(path: str, row: tuple) -> ConfigVersion:
    return ConfigVersion(path, row[0], row[1], row[2], row[3], row[4], row[5])


def history(conn: psycopg.Connection, path: str) -> list[ConfigVersion]:
    rows = conn.execute("SELECT version, label, sha256, comment, author, at FROM ops.config_version "
                        "WHERE path = %s ORDER BY version DESC", (path,)).fetchall()
    return [_row(path, r) for r in rows]


def content_of(conn: psycopg.Connection, path: str, version: str) -> tuple[ConfigVersion, bytes]:
    """A stored version by number or label, or a 404 naming it."""
    row = conn.execute(
        "SELECT version, label, sha256, comment, author, at, content FROM ops.config_version "
        "WHERE path = %s AND (label = %s OR version::text = %s) ORDER BY version DESC LIMIT 1",
        (path, version, version)).fetchone()
    if row is None:
        raise OneMapError(Problem(404, "NotFound", f"{path} 没有版本“{version}”",
                                  f"{path} has no version {version!r}", field="version"))
    return _row(path, row[:6]), bytes(row[6])


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _insert(conn: psycopg.Connection, path: str, content: bytes, author: str, comment: str,
            label: str | None) -> ConfigVersion:
    if label is not None and conn.execute("SELECT 1 FROM ops.config_version WHERE path = %s AND label = %s",
                                          (path, label)).fetchone():
        raise invalid("label", f"{path} 已有名为“{label}”的版本", f"{path} already has a version labelled {label!r}",
                      status=409)
    row = conn.execute(
        "INSERT INTO ops.config_version (path, version, label, content, sha256, comment, author) "
        "SELECT %s, coalesce(max(version), 0) + 1, %s, %s, %s, %s, %s FROM ops.config_version WHERE path = %s "
        "RETURNING version, label, sha256, comment, author, at",
        (path, label, content, _sha(content), comment, author, path)).fetchone()
    return _row(path, row)


def change(conn: psycopg.Connection, principal: Principal, config_dir: Path, path: str, content: bytes,
           comment: str = "", label: str | None = None,
           extra_checks: Iterable[tuple[str, ConfigCheck]] | None = None) -> ConfigVersion:
    """Validate, version, audit and write one file, in the caller's
    transaction (the file is written last: a failure before leaves the
    directory and the history as they were)."""
    path = relative_path(config_dir, path)
    validate(config_dir, path, content, extra_checks)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('onemap.config'))")  # one change at a time
    target = config_dir / path
    on_disk = target.read_bytes() if target.exists() else None
    latest = conn.execute("SELECT sha256 FROM ops.config_version WHERE path = %s ORDER BY version DESC LIMIT 1",
                          (path,)).fetchone()
    if on_disk is not None and (latest is None or latest[0] != _sha(on_disk)):
        # the content in use was never recorded (first change, or edited on
        # disk): keep it, so that it can be rolled back to
        _insert(conn, path, on_disk, "system",
                "版本管理之前或管理接口之外的内容 / content from before version management or edited outside it", None)
    version = _insert(conn, path, content, principal.name, comment, label)
    audit.record(conn, principal, "config.change", path, 200, output_sha256=version.sha256,
                 detail={"version": version.version, "label": label, "comment": comment})
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.{os.getpid()}.new")
    staged.write_bytes(content)
    os.replace(staged, target)  # readers see the old file or the new one, never half of it
    return version


def rollback(conn: psycopg.Connection, principal: Principal, config_dir: Path, path: str, version: str,
             comment: str = "", extra_checks: Iterable[tuple[str, ConfigCheck]] | None = None) -> ConfigVersion:
    """Make an earlier version current again, as a new version (checked
    again: the other files may have changed since)."""
    path = relative_path(config_dir, path)
    old, content = content_of(conn, path, version)
    note = comment or f"回退到版本 {old.version} / rolled back to version {old.version}"
    return change(conn, principal, config_dir, path, content, note, None, extra_checks)
