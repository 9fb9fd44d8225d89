"""Start ``fasciculation-cds serve`` as a real subprocess on a free loopback port, and stop it again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.conftest import ROOT

CONSOLE_SCRIPT = Path(sys.executable).parent / "fasciculation-cds"
MODULE_COMMAND = (sys.executable, "-m", "service.cli")
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(process: subprocess.Popen[bytes], base: str, log_path: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            requests.get(f"{base}/cds-services", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate(timeout=10)
                err = log_path.read_bytes() if log_path is not None else err
                raise AssertionError(f"serve did not start: {err.decode(errors='replace')[-2000:]}") from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)


@contextmanager
def serve_process(
    database_url: str,
    cwd: Path,
    command: Sequence[str] = MODULE_COMMAND,
    workers: int = 2,
    settings: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    source_root: Path = ROOT,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``<command> serve`` on ``database_url``, no drain, plus ``settings``; yields the master process and base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDS_", "PROMETHEUS_"))}
    env.update({"CDS_DATABASE_URL": database_url, "PYTHONPATH": str(source_root), "CDS_DRAIN_SECONDS": "0"})
    env.update(settings or {})
    if env.get("CDS_TRUSTED_CLIENTS"):  # with auth on, tokens are for the URL the tests call (issue 23 row 5)
        env.setdefault("CDS_PUBLIC_URL", f"http://127.0.0.1:{port}")
    args = [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if log_path is None:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    else:
        with log_path.open("wb") as log:
            process = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=log)
    try:
        _wait_until_up(process, f"http://127.0.0.1:{port}", log_path)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@contextmanager
def served(database_url: str, cwd: Path, **options: Any) -> Iterator[str]:
    """Base URL of ``serve`` on ``database_url`` (``options`` as for ``serve_process``)."""
    with serve_process(database_url, cwd, **options) as (_, base):
        yield base
