"""Running the catalogue: the pycsw process (its own gunicorn, from
`.venv-pycsw`, on loopback) and publishing the records into its repository.
`onemap up` / `down` / `catalogue publish` end here."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from catalogue.config import PycswInstance, config_dir, stack_instances, write_config
from catalogue.directory import DIRECTORY_FILE, CatalogueError, load_directory
from catalogue.iso import to_iso19139
from catalogue.records import CatalogueConfig, EvaluationResult, PartnerLayer, catalogue_records
from onemap.core import db
from onemap.core.components import Components, load_object
from onemap.core.daemon import running_pid, stop_pid
from onemap.core.registry import load_layers
from onemap.core.settings import ROOT, Settings, load_yaml

Say = Callable[[str], None]
PYCSW_VENV = ROOT / ".venv-pycsw"
TIMEZONE = ZoneInfo("Asia/Shanghai")


def pycsw_bin(name: str) -> str:
    path = PYCSW_VENV / "bin" / name
    if not path.exists():
        raise RuntimeError(f"pycsw 虚拟环境不存在，请运行 make up / {PYCSW_VENV} is missing: run `make up` "
                           f"(scripts/bootstrap install creates it)")
    return str(path)


# --- the pycsw process ------------------------------------------------------

def gunicorn_command(configs: Path, port: int, pidfile: Path | None, log_dir: Path | None, workers: int = 2,
                     host: str = "127.0.0.1") -> list[str]:
    """gunicorn serving catalogue.server.wsgi (every configuration in
    `configs`): in the background with a pid file and logs, or, without
    them, in the foreground (containers)."""
    cmd = [pycsw_bin("gunicorn"), "--bind", f"{host}:{port}", "--workers", str(workers),
           "--threads", "4", "--worker-class", "gthread", "--timeout", "300", "--chdir", str(ROOT),
           "--no-control-socket",  # gunicorn's default socket path is shared by every instance
           "--env", f"ONEMAP_PYCSW_CONFIG_DIR={configs}"]
    if pidfile and log_dir:
        cmd += ["--daemon", "--pid", str(pidfile),
                "--access-logfile", str(log_dir / f"{pidfile.stem}-access.log"),
                "--error-logfile", str(log_dir / f"{pidfile.stem}.log")]
    else:
        cmd += ["--access-logfile", "-", "--error-logfile", "-"]
    return [*cmd, "catalogue.server.wsgi:application"]


def serve(configs: Path, port: int, pidfile: Path, log_dir: Path, ready_path: str, timeout: float = 60) -> None:
    """Start pycsw (or reload it when it runs) and wait until `ready_path` answers."""
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    pid = running_pid(pidfile)
    if pid:
        os.kill(pid, signal.SIGHUP)
        time.sleep(1)  # let the old workers go before probing
    else:
        subprocess.run(gunicorn_command(configs, port, pidfile, log_dir), check=True)
    url = f"http://127.0.0.1:{port}{ready_path}?service=CSW&version=2.0.2&request=GetCapabilities"
    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=10)
            if response.status_code == 200 and b"Capabilities" in response.content:
                return
            last = f"HTTP {response.status_code}: {response.text[:300]}"
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.3)
    log = log_dir / f"{pidfile.stem}.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"pycsw 未能启动 / pycsw did not start: {last}\n{tail}")


# --- the stack's catalogue --------------------------------------------------

def _pidfile(settings: Settings) -> Path:
    return settings.run_dir / "pycsw.pid"


def _portfile(settings: Settings) -> Path:
    return settings.run_dir / "pycsw.port"


def running_port(settings: Settings) -> int | None:
    """The port of the stack's running pycsw, if it runs."""
    if not running_pid(_pidfile(settings)):
        return None
    try:
        return int(_portfile(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def csw_base(settings: Settings) -> str | None:
    """Where pycsw answers: ONEMAP_CSW_URL (a catalogue container), else the
    loopback port recorded by `start`."""
    if os.environ.get("ONEMAP_CSW_URL"):
        return os.environ["ONEMAP_CSW_URL"].rstrip("/")
    port = running_port(settings)
    return f"http://127.0.0.1:{port}" if port else None


def endpoints(settings: Settings) -> dict[str, str]:
    """pycsw endpoint per audience ('public', 'internal'), or {} when the
    catalogue does not run."""
    base = csw_base(settings)
    return {i.name: f"{base}/{i.name}/csw" for i in stack_instances(settings)} if base else {}


def run_repository(command: str, config_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """catalogue.server.repository in the pycsw virtualenv."""
    return subprocess.run([pycsw_bin("python"), "-m", "catalogue.server.repository", command, str(config_path), *args],
                          input=stdin, capture_output=True, text=True, cwd=ROOT)


def prepare(settings: Settings, database_url: str) -> Path:
    """Write the stack's pycsw configurations and set up the repository;
    returns the configuration of the full (internal) view."""
    config = CatalogueConfig.load(settings.gateway)
    paths = {i.name: write_config(config_dir(settings), i, database_url, config) for i in stack_instances(settings)}
    result = run_repository("setup", paths["internal"])
    if result.returncode:
        raise RuntimeError(f"pycsw 资料库初始化失败 / setting up the pycsw repository failed:\n{result.stderr[-3000:]}")
    return paths["internal"]


def start(settings: Settings, say: Say, port: int) -> None:
    say(f"pycsw 目录服务 / catalogue on 127.0.0.1:{port}")
    _portfile(settings).parent.mkdir(parents=True, exist_ok=True)
    _portfile(settings).write_text(str(port))
    serve(config_dir(settings), port, _pidfile(settings), settings.log_dir, "/internal/csw")


def stop(settings: Settings) -> bool:
    return stop_pid(_pidfile(settings))


def load_records(config_path: Path, prefix: str, records: dict[str, bytes]) -> dict[str, int]:
    """Make the records under `prefix` in the repository exactly `records`
    (identifier -> ISO XML), in one transaction."""
    payload = json.dumps({"records": {k: v.decode("utf-8") for k, v in records.items()}}, ensure_ascii=False)
    result = run_repository("load", config_path, prefix, stdin=payload)
    if result.returncode == 2:
        error = json.loads(result.stdout)
        raise CatalogueError(f"元数据记录 {error['identifier']} 无法入库，未做任何更改：{error['error']}",
                             f"metadata record {error['identifier']} was rejected, nothing was changed: {error['error']}")
    if result.returncode:
        raise RuntimeError(f"元数据入库失败 / loading the records failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def publish(settings: Settings, database_url: str, say: Say, directory_file: Path = DIRECTORY_FILE) -> dict[str, int]:
    """Generate the record of every directory class, registry layer (extents
    from the data), indicator system, evaluation result and partner's map
    layer, and make them the repository's records under the prefix (after
    `prepare`)."""
    layers = load_layers(settings.config_dir / "layers.yaml")
    directory = load_directory(directory_file)
    config = CatalogueConfig.load(settings.gateway)
    systems = load_yaml(settings.config_dir / "indicators" / "systems.yaml").get("systems") or []
    results = [EvaluationResult.from_entry(e)
               for e in load_yaml(settings.config_dir / "evaluation" / "layers.yaml").get("layers") or []]
    partner_layers = [PartnerLayer.from_entry(entry) for reference in Components.load(settings.config_dir).catalogue_layers
                      for entry in load_object(reference)(settings)]
    records = catalogue_records(layers, directory, db.layer_extents(database_url, layers), config,
                                settings.base_url, datetime.now(TIMEZONE).replace(microsecond=0), systems, results,
                                partner_layers=partner_layers)
    counts = load_records(config_dir(settings) / "internal.cfg", f"{config.identifier_prefix}.",
                          {r.identifier: to_iso19139(r) for r in records})
    top, middle, small = directory.counts()
    empty = small - len(directory.with_data([*layers, *results, *partner_layers]))
    say(f"元数据已发布 / catalogue published: 数据目录 {top}/{middle}/{small} 类（暂无数据 {empty} 类 / {empty} without data）, "
        f"{len(layers)} 个图层 layers, {len(systems)} 个指标体系 indicator systems, "
        f"{len(results)} 个评价结果 evaluation results, {len(partner_layers)} 个合作方图层 partners' layers "
        f"(new {counts['inserted']}, updated {counts['updated']}, deleted {counts['deleted']})")
    return counts


def on_plan_published(database_url: str, version: object) -> None:
    """After-publish hook of results management (config/plan.yaml): the
    records of the plan layers take the new version's extents and dates.
    Where no catalogue runs (a bare database), there is nothing to update."""
    settings = Settings.from_env()
    if running_port(settings) is None:
        return
    publish(settings, database_url, logging.getLogger(__name__).info)


def serve_partner(settings: Settings, database_url: str, name: str, schema: str, port: int, pidfile: Path) -> str:
    """A partner's catalogue stood in on loopback (the province's): a pycsw of
    its own with CSW-T, its repository in `schema`. Its CSW URL."""
    home = settings.var_dir / "standins" / name
    instance = PycswInstance(name=name, url=f"http://127.0.0.1:{port}/{name}/csw", schema=schema, repo_filter=None,
                             transactions=True)
    path = write_config(home / "configs", instance, database_url, CatalogueConfig.load(settings.gateway))
    result = run_repository("setup", path)
    if result.returncode:
        raise RuntimeError(f"{name} pycsw repository setup failed: {result.stderr[-2000:]}")
    serve(home / "configs", port, pidfile, settings.log_dir, f"/{name}/csw")
    return instance.url
