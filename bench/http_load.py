"""HTTP figures: ``fasciculation-cds serve`` on a free loopback port, loaded by wrk or a Python keep-alive client."""

from __future__ import annotations

import http.client
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.bodies import FreshInstances

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only, always
START_TIMEOUT_S = 30.0
WRK_LUA = """
-- POST the body, with a new hookInstance per request (so every call issues new cards to store).
init = function(args)
  local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
  local body = f:read("*a")
  f:close()
  local _, open_end = body:find('"hookInstance":"', 1, true)
  local close = body:find('"', open_end + 1, true)
  prefix, suffix = body:sub(1, open_end), body:sub(close)
  base, n = os.getenv("BENCH_INSTANCE_BASE"), 0
end
request = function()
  n = n + 1
  local instance = string.format("%s-0000-4000-8000-%012x", base, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, prefix .. instance .. suffix)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %.1f %.1f %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """One timed load run."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_command() -> list[str]:
    """The ``fasciculation-cds`` console script next to this interpreter, else ``python -m service.cli``."""
    script = Path(sys.executable).parent / "fasciculation-cds"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Poll discovery until it answers 200, or fail with the tail of the server log."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        connection = http.client.HTTPConnection(HOST, port, timeout=1)
        try:
            connection.request("GET", "/cds-services")
            if response_of(connection).status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"server did not start; log tail:\n{log_path.read_text(errors='replace')[-2000:]}")


def floor_command(port: int, workers: int) -> list[str]:
    """gunicorn (sync workers, as the service) serving the do-nothing app of ``bench/floor_app.py``."""
    settings = ["--workers", str(workers), "--worker-class", "sync", "--keep-alive", "5", "--log-level", "warning"]
    return [sys.executable, "-m", "gunicorn", *settings, "--bind", f"{HOST}:{port}", "bench.floor_app:app"]


@contextmanager
def served(workers: int, database_url: str, floor: bool = False) -> Iterator[int]:
    """Run ``fasciculation-cds serve --workers N`` (or the floor app) on a free loopback port; yields the port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env["CDS_DATABASE_URL"] = database_url
    env["CDS_DRAIN_SECONDS"] = "0"  # stop at once when the run is over
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(ROOT), env.get("PYTHONPATH")) if x)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    log_path = log_dir / "server.log"
    command = [*server_command(), "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    if floor:
        command = floor_command(port, workers)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=log_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(process, port, log_path)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wrk_version() -> str | None:
    """``wrk 4.x`` when wrk is installed, else None."""
    path = shutil.which("wrk")
    if path is None:
        return None
    result = subprocess.run([path, "-v"], capture_output=True, check=False, timeout=10)
    words = (result.stdout or result.stderr).decode(errors="replace").split()
    return " ".join(words[:2]) if words else "wrk"


def run_wrk(port: int, path: str, body: bytes, concurrency: int, duration_s: float) -> LoadResult:
    """One wrk run (one thread, ``concurrency`` connections) POSTing ``body``."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        script, body_file = Path(folder) / "post.lua", Path(folder) / "body.json"
        script.write_text(WRK_LUA)
        body_file.write_bytes(body)
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "--timeout", "10s"]
        result = subprocess.run(
            [*command, "-s", str(script), f"http://{HOST}:{port}{path}"],
            capture_output=True,
            check=True,
            env={**os.environ, "BENCH_BODY": str(body_file), "BENCH_INSTANCE_BASE": uuid.uuid4().hex[:8]},
            timeout=duration_s + 60,
        )
    line = next(x for x in result.stdout.decode().splitlines() if x.startswith("BENCH "))
    requests, duration_us, p50_us, p99_us, errors = line.split()[1:]
    return LoadResult(int(requests), int(duration_us) / 1e6, float(p50_us) / 1000, float(p99_us) / 1000, int(errors))


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _client_loop(port: int, path: str, body: bytes, deadline: float, latencies: list[float], errors: list[int]) -> None:
    """One keep-alive client: POST (new hookInstance each time) until the deadline, reconnecting when told to."""
    headers = {"Content-Type": "application/json"}
    calls = FreshInstances(body)
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            connection.request("POST", path, calls.next(), headers)
            response = response_of(connection)
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                errors.append(response.status)
            if response.will_close:
                connection.close()
        except (OSError, http.client.HTTPException):
            errors.append(0)
            connection.close()
    connection.close()


def response_of(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    """Read a whole response (so the connection can be reused)."""
    response = connection.getresponse()
    response.read()
    return response


def run_python(port: int, path: str, body: bytes, concurrency: int, duration_s: float) -> LoadResult:
    """One run of ``concurrency`` client threads with http.client keep-alive connections."""
    deadline = time.perf_counter() + duration_s
    per_thread: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[int] = []
    threads = [
        threading.Thread(target=_client_loop, args=(port, path, body, deadline, per_thread[i], errors), daemon=True)
        for i in range(concurrency)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration_s + 30)
    elapsed = time.perf_counter() - started
    latencies = sorted(x for values in per_thread for x in values)
    return LoadResult(
        len(latencies), elapsed, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, len(errors)
    )
