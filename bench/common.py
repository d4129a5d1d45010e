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


# --- HTTP at rates beyond run_load: wrk (C) walking a list of paths ------------

_WRK_SCRIPT = """
local paths, i = {}, 0
for line in io.lines("%s") do paths[#paths + 1] = line end
%s
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%.1f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency.mean, summary.duration, 0))
end
"""


@dataclass
class WrkResult:
    name: str
    requests: int
    errors: int
    p50_us: int
    p95_us: int
    mean_us: float
    seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def row(self) -> str:
        return (f"{self.name:<34} {self.requests:>6} {self.rps:>9.1f} {self.p50_us / 1000:>9.2f} "
                f"{self.p95_us / 1000:>9.2f} {self.mean_us / 1000:>9.2f} {self.errors:>6}")


def run_wrk(name: str, base: str, paths: list[str], headers: dict[str, str] | None = None,
            seconds: int = 15, threads: int = 2, connections: int = 8) -> WrkResult:
    """`wrk -t2 -c8` for `seconds` over `paths` (in turn) on `base`; errors
    count non-2xx/3xx answers and socket errors."""
    work = ROOT / "var" / "bench" / "wrk"
    work.mkdir(parents=True, exist_ok=True)
    listing = work / f"{abs(hash(name))}.paths"
    listing.write_text("\n".join(paths) + "\n")
    header_lua = "headers = {" + ", ".join(f'["{k}"] = "{v}"' for k, v in (headers or {}).items()) + "}"
    script = work / f"{abs(hash(name))}.lua"
    script.write_text(_WRK_SCRIPT % (listing, header_lua))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
                         capture_output=True, text=True, check=True).stdout
    fields = next(line for line in out.splitlines() if line.startswith("WRK ")).split()[1:]
    total, errors, p50, p95, mean, duration_us = (float(v) for v in fields[:6])
    return WrkResult(name, int(total), int(errors), int(p50), int(p95), mean, duration_us / 1e6)


def start_nginx(port: int, locations: dict[str, Path]) -> subprocess.Popen:
    """Debian's nginx on loopback serving each URL prefix of `locations`
    from a directory (the static-file peer)."""
    work = ROOT / "var" / "bench" / "nginx"
    work.mkdir(parents=True, exist_ok=True)
    served = "".join(f"location {prefix} {{ alias {directory}/; }}\n" for prefix, directory in locations.items())
    conf = work / "nginx.conf"
    conf.write_text(f"""worker_processes 2; daemon off; pid {work}/nginx.pid; error_log {work}/error.log;
events {{}}
http {{ access_log off; sendfile on; default_type image/png;
  server {{ listen 127.0.0.1:{port}; {served} }} }}
""")
    process = subprocess.Popen(["nginx", "-e", str(work / "error.log"), "-p", str(work), "-c", str(conf)])
    wait_http(f"http://127.0.0.1:{port}/")
    return process
