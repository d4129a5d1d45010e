"""Background processes the stack starts (gunicorn daemons), known by their
pid files under var/run."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


def running_pid(pidfile: Path) -> int | None:
    """The pid in `pidfile` when that process still runs."""
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return None
    return None if state in ("Z", "X") else pid  # a killed process its parent has not reaped is gone too


def stop_pid(pidfile: Path, timeout: float = 20) -> bool:
    """SIGTERM the process of `pidfile` and wait for it to go; False when none ran."""
    pid = running_pid(pidfile)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return True


def free_port() -> int:
    """A loopback port free now, for a process about to bind it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
