"""Shared benchmark machinery: the stack under test, concurrent load, figures."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from onemap.core.settings import Settings  # noqa: E402


@dataclass
class Result:
    name: str
    latencies: list[float]
    wall: float
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000

    def row(self) -> str:
        return (f"{self.name:<34} {len(self.latencies):>6} {self.rps:>9.1f} {self.pct(50):>9.1f} "
                f"{self.pct(95):>9.1f} {statistics.mean(self.latencies) * 1000:>9.1f} {self.errors:>6}")


HEADER = f"{'case':<34} {'n':>6} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9} {'errors':>6}"


def run_load(name: str, tasks: list, worker: Callable[[object, object], None],
             make_state: Callable[[], object], concurrency: int = 8) -> Result:
    """Run worker(state, task) for every task from `concurrency` threads, each
    with its own state (an HTTP session, a database connection)."""
    local = threading.local()
    states: list[object] = []
    lock = threading.Lock()
    errors = 0

    def call(task: object) -> float | None:
        nonlocal errors
        if not hasattr(local, "state"):
            local.state = make_state()
            with lock:
                states.append(local.state)
        started = time.perf_counter()
        try:
            worker(local.state, task)
        except Exception as exc:  # counted and reported, the run goes on
            with lock:
                errors += 1
                if errors <= 3:
                    print(f"  ! {name}: {exc}", file=sys.stderr)
            return None
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, tasks[:concurrency * 2]))  # warm-up: connections, caches
        started = time.perf_counter()
        latencies = [t for t in pool.map(call, tasks) if t is not None]
        wall = time.perf_counter() - started
    for state in states:
        close = getattr(state, "close", None)
        if close:
            close()
    return Result(name, latencies, wall, errors)


def stack_settings() -> Settings:
    return Settings.from_env()


def tipg_python() -> Path:
    """A virtualenv with tipg + uvicorn from PyPI, beside the project's own."""
    venv = ROOT / "var" / "bench" / "tipg-venv"
    if not (venv / "bin" / "uvicorn").exists():
        print("installing tipg into", venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "tipg==1.6.1", "uvicorn"], check=True)
    return venv / "bin"


def wait_http(url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
