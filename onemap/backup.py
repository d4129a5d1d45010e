"""Backup and restore (备份与恢复): the database (pg_dump, custom format),
the configuration and the sources of the generated files, and a manifest of
row counts and checksums per table and checksums per file, so a restore can
prove it put back what was saved.

The manifest and the dump see the same state: the checksums are computed in
a repeatable-read transaction whose snapshot pg_dump is handed
(`--snapshot`), so requests writing meanwhile (audit rows, jobs) change
neither."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.db import connect, libpq_dsn
from onemap.localdb import pg_bin_dir

DUMP = "database.dump"
MANIFEST = "manifest.json"
# what the generated files (pygeoapi, MapProxy, MapServer, SLD) are made from
SOURCE_DIRS = ("styles", "mapproxy")
# tables of extensions (PostGIS's spatial_ref_sys) come with the extension
_TABLES = ("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
           "AND n.nspname NOT LIKE 'pg_toast%%' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
           "WHERE d.objid = c.oid AND d.deptype = 'e') ORDER BY 1, 2")


class BackupError(RuntimeError):
    pass


def table_checksums(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Rows and an order-independent checksum (MD5 of the sorted MD5s of the
    rows' text) of every table, by schema.table. Times as UTC text, so the
    session's time zone does not matter."""
    conn.execute("SET TIME ZONE 'UTC'")
    result = {}
    for schema, table in conn.execute(_TABLES).fetchall():
        name = sql.Identifier(schema, table)
        rows, checksum = conn.execute(
            sql.SQL("SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') "
                    "FROM (SELECT md5(t::text) AS h FROM {} t) s").format(name)).fetchone()
        result[f"{schema}.{table}"] = {"rows": rows, "md5": checksum}
    return result


def file_checksums(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): _sha256(path)
            for path in sorted(directory.rglob("*")) if path.is_file() and path.name != MANIFEST}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tool(name: str, database_url: str, *args: str) -> None:
    env = {**os.environ, "PGPASSWORD": str(psycopg.conninfo.conninfo_to_dict(database_url).get("password", ""))}
    done = subprocess.run([str(pg_bin_dir() / name), "--dbname", libpq_dsn(database_url, with_password=False),
                           *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{name} 失败 / {name} failed: {done.stderr.strip()[-2000:]}")


def backup(database_url: str, config_dir: Path, root: Path, target: Path) -> dict[str, Any]:
    """Write a backup into `target` (new or empty) and return its manifest."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"备份目录非空：{target} / the backup directory is not empty: {target}")
    target.mkdir(parents=True, exist_ok=True)
    installed = shutil.ignore_patterns("node_modules", "__pycache__")  # installed, not sources
    shutil.copytree(config_dir, target / "config", ignore=installed)
    for name in SOURCE_DIRS:
        shutil.copytree(root / name, target / name, ignore=installed)
    with connect(database_url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        (snapshot,) = conn.execute("SELECT pg_export_snapshot()").fetchone()
        tables = table_checksums(conn)
        # a table some change waits to lock would otherwise hold the dump,
        # and the change waits for this transaction: give up instead
        _tool("pg_dump", database_url, "--format=custom", "--snapshot", snapshot, "--lock-wait-timeout=60s",
              "--file", str(target / DUMP))
        conn.rollback()
    manifest = {"created": dt.datetime.now(dt.UTC).isoformat(), "tables": tables,
                "files": file_checksums(target)}
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def is_empty(conn: psycopg.Connection) -> bool:
    return not conn.execute(_TABLES).fetchall()


def restore(source: Path, database_url: str, force: bool = False,
            config_dir: Path | None = None) -> list[str]:
    """Restore a backup into the database (refused when it has tables,
    unless `force`, which replaces what the backup holds) and the
    configuration into `config_dir` when given; return the differences
    between the restored database and the manifest (empty: all match)."""
    manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    changed = sorted(name for name, digest in manifest["files"].items()
                     if not (source / name).is_file() or _sha256(source / name) != digest)
    if changed:
        raise BackupError(f"备份文件已损坏或缺失：{', '.join(changed)} / backup files changed or missing: "
                          f"{', '.join(changed)}")
    with connect(database_url, autocommit=True) as conn:
        if not force and not is_empty(conn):
            raise BackupError("目标数据库非空，如需覆盖请加 --force / the target database is not empty: "
                              "use --force to replace its contents")
    _tool("pg_restore", database_url, "--exit-on-error", "--no-owner", *(["--clean", "--if-exists"] if force else []),
          str(source / DUMP))
    if config_dir is not None:
        shutil.copytree(source / "config", config_dir, dirs_exist_ok=True)
    with connect(database_url, autocommit=True) as conn:
        return compare(manifest["tables"], table_checksums(conn))


def compare(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[str]:
    return [f"{name}: {expected.get(name)} != {actual.get(name)}"
            for name in sorted(set(expected) | set(actual)) if expected.get(name) != actual.get(name)]
