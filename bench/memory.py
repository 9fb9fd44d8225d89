"""Peak RSS of one hook call, measured in a fresh interpreter (``python -m bench.memory BODY DB_URL NOW``)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class MemoryFigures:
    """Peak resident set sizes in MiB: after start-up (imports + create_app) and after the call."""

    startup_mib: float
    peak_mib: float


def _peak_mib() -> float:
    """Peak RSS of this process in MiB: VmHWM on Linux, else ru_maxrss.

    ru_maxrss alone is misleading in a child: Linux carries the parent's high-water mark across fork+exec.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_in_subprocess(body: bytes, database_url: str, now: datetime) -> MemoryFigures:
    """Run one hook call with ``body`` in a child interpreter and read its peak RSS."""
    with tempfile.NamedTemporaryFile(prefix="bench-body-", suffix=".json") as handle:
        handle.write(body)
        handle.flush()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        result = subprocess.run(
            [sys.executable, "-m", "bench.memory", handle.name, database_url, now.isoformat()],
            capture_output=True,
            check=False,
            cwd=ROOT,
            env=env,
            timeout=300,
        )
    if result.returncode != 0:
        raise RuntimeError(f"memory child failed: {result.stderr.decode()[-2000:]}")
    figures = orjson.loads(result.stdout.splitlines()[-1])
    return MemoryFigures(startup_mib=figures["startup_mib"], peak_mib=figures["peak_mib"])


def _child(body_path: str, database_url: str, now_text: str) -> None:
    """Child side: build the app, read the body, make one call, print the figures as JSON."""
    from bench.inprocess import make_app, screen_once

    app = make_app(datetime.fromisoformat(now_text), database_url)
    startup = _peak_mib()
    body = Path(body_path).read_bytes()
    screen_once(app, body)
    sys.stdout.write(orjson.dumps({"startup_mib": startup, "peak_mib": _peak_mib()}).decode() + "\n")


if __name__ == "__main__":
    _child(*sys.argv[1:4])
