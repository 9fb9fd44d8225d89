"""``python -m bench.cli_startup``: start-up of ``fasciculation-cds evaluate`` (median wall and CPU seconds).

Each run is a fresh interpreter evaluating one small fixture patient. ``cold`` points XDG_CACHE_HOME at an empty
directory for every run (pint builds the UCUM registry from its definition files, as before the cache);
``warm`` keeps one directory (the registry comes from pint's cache, service/facts/unit_cache.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATIENT = ROOT / "fixtures" / "patients" / "advair_fasciculation.json"
COMMAND = [sys.executable, "-m", "service.cli", "evaluate", "--bundle", str(PATIENT), "--now", "2026-11-20T12:00Z"]


def _run_once(cache_home: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {**os.environ, "XDG_CACHE_HOME": cache_home}
    subprocess.run(COMMAND, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int, warm: bool) -> tuple[float, float]:
    """Median wall and CPU seconds over ``runs`` evaluations."""
    samples = []
    with tempfile.TemporaryDirectory() as shared:
        if warm:
            _run_once(shared)  # fills the cache
        for _ in range(runs):
            if warm:
                samples.append(_run_once(shared))
            else:
                with tempfile.TemporaryDirectory() as fresh:
                    samples.append(_run_once(fresh))
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"evaluate start-up, median of {args.runs} (load average {os.getloadavg()[0]:.1f})")
    print(f"{'cache':<6} {'wall s':>7} {'cpu s':>6}")
    for warm in (False, True):
        wall, cpu = measure(args.runs, warm)
        print(f"{'warm' if warm else 'cold':<6} {wall:>7.2f} {cpu:>6.2f}")


if __name__ == "__main__":
    main()
