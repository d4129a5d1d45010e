"""Bringing the stack up and down: the database, the generated
configuration and the gateway process. `make up`, `make down` and
`make test` end here."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from catalogue import service as catalogue
from onemap import localdb, standins
from onemap.core import db
from onemap.core.components import Components
from onemap.core.daemon import free_port, running_pid, stop_pid
from onemap.core.registry import load_layers, load_processes
from onemap.core.settings import ROOT, Settings
from onemap.maps.service import write_map_configs
from onemap.ogc.config import write_configs

Say = Callable[[str], None]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def start_database(settings: Settings, say: Say) -> str:
    if settings.uses_local_db:
        say(f"PostgreSQL 私有集群 / private cluster: {settings.var_dir / 'pg'} (port {settings.pg_port})")
        localdb.start(settings)
    url = settings.database_url
    db.apply_schema(url, Components.load(settings.config_dir).schema_sql())
    return url


def demo_loaded(database_url: str) -> bool:
    with db.connect(database_url) as conn:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM base.xzq)").fetchone()[0]


@contextmanager
def one_replica_at_a_time(database_url: str) -> Iterator[None]:
    """Held by one gateway replica at a time while it prepares the shared
    database and var/ (demo load, generated configuration): a PostgreSQL
    advisory lock, released when the block ends."""
    with db.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('onemap.replica.start'))")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('onemap.replica.start'))")


def load_demo(database_url: str, scale: str, seed: int, say: Say) -> None:
    from onemap.demo.load import load_city

    started = time.monotonic()
    counts = load_city(database_url, scale=scale, seed=seed, progress=say)
    _write_factor_rasters(database_url, scale, seed, say)
    say(f"示例城市已加载 / demo city loaded ({scale}, seed {seed}) in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _write_factor_rasters(database_url: str, scale: str, seed: int, say: Say) -> None:
    """The evaluation models' factor rasters (评价因子) from the city just loaded."""
    from onemap.demo.factors import RESOLUTION_M, write_factors

    started = time.monotonic()
    write_factors(database_url, Settings.from_env().evaluation_dir / "factors", seed, RESOLUTION_M[scale], say)
    say(f"评价因子已生成 / factor rasters written in {time.monotonic() - started:.0f} s")


def generate_config(settings: Settings, database_url: str) -> list[Path]:
    layers = load_layers(settings.config_dir / "layers.yaml")
    processes = load_processes(settings.config_dir / "processes.yaml")
    extents = db.layer_extents(database_url, layers)
    return (write_configs(layers, settings, database_url, extents, processes)
            + write_map_configs(layers, settings, database_url, extents))


def apply_config(settings: Settings, database_url: str) -> bool:
    """A configuration change reaches the running services: the generated
    service configuration is written again and the gateway reloads gracefully
    (gunicorn's HUP: new workers read the change, busy ones finish first).
    Whether there was a gateway to reload."""
    generate_config(settings, database_url)
    pid = gateway_pid(settings)
    if pid:
        os.kill(pid, signal.SIGHUP)
    return bool(pid)


def start_catalogue(settings: Settings, database_url: str, say: Say) -> None:
    """pycsw on a loopback port of its own, and the records of the registry."""
    catalogue.prepare(settings, database_url)
    catalogue.start(settings, say, catalogue.running_port(settings) or free_port())
    catalogue.publish(settings, database_url, say)


def _pidfile(settings: Settings) -> Path:
    return settings.run_dir / "gateway.pid"


def gateway_pid(settings: Settings) -> int | None:
    return running_pid(_pidfile(settings))


def gunicorn_command(settings: Settings, daemon: bool) -> list[str]:
    """gunicorn serving the gateway: in the background for `make up`, in the
    foreground (daemon=False) for containers and process supervisors."""
    gunicorn = settings.gateway["gunicorn"]
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--bind", f"{settings.host}:{settings.port}",
        "--workers", str(os.environ.get("ONEMAP_WORKERS", gunicorn["workers"])),
        "--threads", str(gunicorn["threads"]), "--worker-class", "gthread",
        "--timeout", str(gunicorn["timeout"]),
        "--chdir", str(ROOT),
    ]
    # no gunicorn access log: the gateway writes each request as a JSON line
    # with its id and caller (var/log/onemap.log, onemap.core.logs)
    if daemon:
        cmd += ["--daemon", "--pid", str(_pidfile(settings)),
                "--error-logfile", str(settings.log_dir / "gateway.log")]
    else:
        cmd += ["--error-logfile", "-"]
    return [*cmd, "onemap.gateway.app:wsgi_app()"]


def gateway_env(settings: Settings, database_url: str) -> dict[str, str]:
    return {**os.environ, "ONEMAP_VAR": str(settings.var_dir), "ONEMAP_PORT": str(settings.port),
            "ONEMAP_HOST": settings.host, "ONEMAP_PG_PORT": str(settings.pg_port),
            "DATABASE_URL": database_url, "ONEMAP_PROXIES": str(settings.proxies)}


def start_gateway(settings: Settings, database_url: str, say: Say, timeout: float = 300) -> None:
    """Start gunicorn in the background (or reload it) and wait for /healthz."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    pid = gateway_pid(settings)
    if pid:
        say(f"网关重新加载配置 / reloading the gateway (pid {pid})")
        os.kill(pid, signal.SIGHUP)
    else:
        if port_in_use(settings.host, settings.port):
            raise SystemExit(
                f"端口 {settings.port} 已被占用 / port {settings.port} is in use: stop what runs there "
                f"or set ONEMAP_PORT")
        # a pid file left by a killed gateway (its pid may be an unreaped
        # zombie, which gunicorn would take for a running master)
        _pidfile(settings).unlink(missing_ok=True)
        from onemap.ogc.jobs import fail_interrupted  # pygeoapi: imported only to start

        interrupted = fail_interrupted(database_url)
        if interrupted:
            say(f"{interrupted} 个中断的任务已标为失败 / interrupted jobs marked failed")
        subprocess.run(gunicorn_command(settings, daemon=True), check=True,
                       env=gateway_env(settings, database_url))
    wait_healthy(settings, timeout)


def wait_healthy(settings: Settings, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"http://{settings.host}:{settings.port}/healthz", timeout=10)
            if r.status_code == 200:
                return r.json()
            last = r.text
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.5)
    log = settings.log_dir / "gateway.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise SystemExit(f"网关未能启动 / the gateway did not become healthy: {last}\n{tail}")


def stop_gateway(settings: Settings, timeout: float = 45) -> bool:
    """SIGTERM and wait: longer than gunicorn's graceful timeout (30 s), after
    which it kills busy workers, so a start right after never finds it."""
    return stop_pid(_pidfile(settings), timeout)


def up(settings: Settings, say: Say, scale: str = "small", seed: int = 1, reload: bool = False,
       standins_enabled: bool = False) -> str:
    """The stack; with `standins_enabled` (`make up`), the partners' local
    stand-ins too (onemap.standins)."""
    url = start_database(settings, say)
    if reload or not demo_loaded(url):
        load_demo(url, scale, seed, say)
    elif not (settings.evaluation_dir / "factors").exists():
        _write_factor_rasters(url, scale, seed, say)
    if standins_enabled:  # first: the catalogue's records of the partners' layers follow their settings
        standins.start(settings, url, say)
    start_catalogue(settings, url, say)
    generate_config(settings, url)
    start_gateway(settings, url, say)
    return url


def down(settings: Settings, say: Say) -> None:
    if stop_gateway(settings):
        say("网关已停止 / gateway stopped")
    stopped = standins.stop(settings)
    if stopped:
        say(f"本地替身已停止 / local stand-ins stopped: {', '.join(stopped)}")
    if catalogue.stop(settings):
        say("目录服务已停止 / catalogue (pycsw) stopped")
    if settings.uses_local_db and localdb.stop(settings):
        say("PostgreSQL 已停止 / PostgreSQL stopped")
