"""本地替身 The partners' local stand-ins of `make up` (integration.standins,
and a second pycsw with CSW-T for the province's catalogue), each a process
on a free loopback port with its pid file under var/run and its log under
var/log, and the integration settings pointing at them
(var/integration/standins.yaml, over the empty settings of
config/integration.yaml). A partner whose URL is set there is not stood in."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from catalogue import service as catalogue
from integration import standins
from integration.config import standins_file
from onemap.core.daemon import free_port, stop_pid
from onemap.core.settings import ROOT, Settings

Say = Callable[[str], None]
PROVINCE_SCHEMA = "province_standin"  # the province's catalogue repository, beside ours


def _pidfile(settings: Settings, kind: str) -> Path:
    return settings.run_dir / f"standin-{kind}.pid"


def start(settings: Settings, database_url: str, say: Say) -> dict[str, str]:
    """(Re)start the stand-ins config/integration.yaml calls for and point
    the integration settings at them: kind -> URL."""
    stop(settings)
    urls = {}
    for kind in standins.wanted(settings.config_dir):
        port, pidfile = free_port(), _pidfile(settings, kind)
        if kind == "province-csw":
            urls[kind] = catalogue.serve_partner(settings, database_url, "province", PROVINCE_SCHEMA, port, pidfile)
        else:
            subprocess.run([sys.executable, "-m", "integration.standins", kind, "--port", str(port),
                            "--var", str(settings.var_dir), "--pidfile", str(pidfile),
                            "--log", str(settings.log_dir / f"standin-{kind}.log")],
                           check=True, cwd=ROOT, env={**os.environ, "ONEMAP_CONFIG": str(settings.config_dir)})
            urls[kind] = f"http://127.0.0.1:{port}"
        say(f"本地替身 / local stand-in {kind}: {urls[kind]}")
    if urls:
        standins.write_settings(settings.var_dir, urls)
    return urls


def stop(settings: Settings) -> list[str]:
    """Stop the running stand-ins and forget their settings: the kinds stopped."""
    standins_file(settings.var_dir).unlink(missing_ok=True)
    kinds = list(standins.REPLACES)
    with ThreadPoolExecutor(len(kinds)) as pool:  # each waits for its process to go: at once
        stopped = list(pool.map(stop_pid, [_pidfile(settings, kind) for kind in kinds]))
    return [kind for kind, was in zip(kinds, stopped, strict=True) if was]
