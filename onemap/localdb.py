"""The private PostgreSQL + PostGIS cluster under var/ (used when no
DATABASE_URL is given). It runs as the `postgres` system user, listens on
loopback and on a socket inside var/ only."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from onemap.core.settings import Settings

DB_NAME = "onemap"
DB_USER = "onemap"

# Sized for one machine with 24 GiB: enough for city-scale overlays.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "'1GB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "effective_cache_size": "'8GB'",
    "synchronous_commit": "off",
    "max_wal_size": "'4GB'",
    "random_page_cost": "1.1",
    "jit": "off",
    "timezone": "'Asia/Shanghai'",
    "logging_collector": "off",
}


class LocalDbError(RuntimeError):
    pass


def pg_bin_dir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise LocalDbError(
            "找不到 PostgreSQL 服务端 / PostgreSQL server binaries not found under /usr/lib/postgresql"
        )
    return versions[-1].parent


def _as_postgres(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    """Run a server command as the postgres system user when we are root
    (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def _paths(settings: Settings) -> tuple[Path, Path]:
    return settings.var_dir / "pg" / "data", settings.var_dir / "pg" / "socket"


def _own(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
        path.chmod(0o700)


def init_cluster(settings: Settings) -> None:
    data, socket = _paths(settings)
    if (data / "PG_VERSION").exists():
        return
    for d in (data.parent, data, socket):
        _own(d)
    _as_postgres([str(pg_bin_dir() / "initdb"), "-D", str(data), "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256", "-U", "postgres"])
    conf = "\n".join(f"{k} = {v}" for k, v in SERVER_SETTINGS.items())
    conf += f"\nport = {settings.pg_port}\nunix_socket_directories = '{socket}'\n"
    with open(data / "postgresql.auto.conf", "a") as f:
        f.write(conf)


def is_running(settings: Settings) -> bool:
    data, _ = _paths(settings)
    if not (data / "postmaster.pid").exists():
        return False
    result = subprocess.run([str(pg_bin_dir() / "pg_ctl"), "status", "-D", str(data)],
                            capture_output=True)
    # pg_ctl status as root cannot read the data dir; fall back to the pid.
    if result.returncode in (0, 3):
        return result.returncode == 0
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return Path(f"/proc/{pid}").exists()


def start(settings: Settings) -> str:
    """Create (first time) and start the cluster; return its DATABASE_URL."""
    init_cluster(settings)
    data, socket = _paths(settings)
    log = settings.log_dir / "postgresql.log"
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    if not is_running(settings):
        log.touch()
        if os.geteuid() == 0:
            shutil.chown(log, "postgres", "postgres")
        try:
            _as_postgres([str(pg_bin_dir() / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
                          "-l", str(log), "-o", f"-p {settings.pg_port}"])
        except subprocess.CalledProcessError as exc:
            tail = log.read_text(errors="replace")[-2000:]
            raise LocalDbError(f"PostgreSQL 启动失败 / PostgreSQL did not start:\n{exc.stderr}\n{tail}") from exc
    _ensure_database(settings, socket)
    return settings.local_db_url_file.read_text().strip()


def _ensure_database(settings: Settings, socket: Path) -> None:
    url_file = settings.local_db_url_file
    if url_file.exists():
        return
    password = secrets.token_urlsafe(24)
    sql = (f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{DB_USER}') THEN "
           f"CREATE ROLE {DB_USER} LOGIN SUPERUSER; END IF; END $$;"
           f"ALTER ROLE {DB_USER} PASSWORD '{password}';")
    psql = [str(pg_bin_dir() / "psql"), "-h", str(socket), "-p", str(settings.pg_port),
            "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]
    _as_postgres([*psql, "-d", "postgres", "-c", sql])
    exists = _as_postgres([*psql, "-d", "postgres", "-c",
                           f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"]).stdout.strip()
    if not exists:
        _as_postgres([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}"])
    url = f"postgresql://{DB_USER}:{password}@127.0.0.1:{settings.pg_port}/{DB_NAME}"
    with psycopg.connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    url_file.parent.mkdir(parents=True, exist_ok=True)
    url_file.touch(mode=0o600)
    url_file.write_text(url + "\n")


def stop(settings: Settings) -> bool:
    data, _ = _paths(settings)
    if not is_running(settings):
        return False
    _as_postgres([str(pg_bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(data)])
    return True


def restart(settings: Settings) -> None:
    """Restart the cluster, dropping every connection (what a failover or
    an operator's restart does to the services)."""
    stop(settings)
    start(settings)


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
