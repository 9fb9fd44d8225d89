"""Cohort benchmark: a synthetic clinic as a Bulk Data export, screened by each engine at 1 and 2 workers.

    .venv/bin/python bench/cohort.py [--patients 2000] [--engines embedded,spark] [--workers 1,2] [--keep DIR]

Prints, per engine and worker count: wall time, patients/s, MB/s of NDJSON, the time per core (wall x workers)
against the floor (orjson parsing of the same lines in one process, measured in the same run) and the ratio, the
speed-up over one worker, and the peak RSS of the largest process of the run (the parent, a screen worker or
Spark's JVM); whether every run wrote the same worklist bytes. The population is bench/population.py.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.population import write_export  # noqa: E402

NOW = "2026-11-20T12:00:00Z"
POLL_S = 0.1


@dataclass(frozen=True)
class Run:
    """One measured cohort run."""

    engine: str
    workers: int
    wall_s: float
    peak_rss_mib: float
    worklist_sha: str
    exit_status: int


def parse_floor(folder: Path) -> tuple[float, int, int]:
    """(CPU seconds, lines, bytes) for orjson.loads of every NDJSON line of the export, in this process."""
    lines = bytes_read = 0
    started = time.process_time()
    for path in sorted(folder.glob("*.ndjson")):
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    orjson.loads(line)
                    lines += 1
                    bytes_read += len(line)
    return time.process_time() - started, lines, bytes_read


def _peak_rss(process: psutil.Popen) -> float:
    """Wait for the run and return the largest RSS any process of its tree reached (MiB), sampled every 0.1 s."""
    peaks: dict[int, int] = {}
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for item in tree:
            try:
                peaks[item.pid] = max(peaks.get(item.pid, 0), item.memory_info().rss)
            except psutil.NoSuchProcess:
                pass
        time.sleep(POLL_S)
    return max(peaks.values(), default=0) / 2**20


def run_once(export: Path, out: Path, engine: str, workers: int) -> Run:
    """``fasciculation-cds cohort`` in a fresh process; wall time and peak RSS."""
    command = [sys.executable, "-m", "service.cli", "cohort", "--input", str(export), "--out", str(out)]
    command += ["--now", NOW, "--engine", engine, "--workers", str(workers), "--master", f"local[{workers}]"]
    started = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=Path(__file__).parents[1])
    peak = _peak_rss(process)
    wall = time.perf_counter() - started
    digest = (
        hashlib.sha256((out / "worklist.csv").read_bytes()).hexdigest()[:12] if (out / "worklist.csv").exists() else "-"
    )
    return Run(engine, workers, wall, peak, digest, process.returncode)


def report(patients: int, floor: tuple[float, int, int], runs: Sequence[Run]) -> str:
    """The table."""
    floor_s, lines, size = floor
    mb = size / 1e6
    head = (
        f"floor: orjson.loads of {lines:,} lines ({mb:.1f} MB) in one process: {floor_s:.2f} s CPU "
        f"({mb / floor_s:.0f} MB/s, {patients / floor_s:,.0f} patients/s)\n"
        f"{'engine':<9}{'workers':>8}{'wall s':>9}{'patients/s':>12}{'MB/s':>8}{'core-s':>9}{'/ floor':>9}"
        f"{'speed-up':>10}{'peak RSS MiB':>14}{'worklist':>14}{'exit':>6}"
    )
    rows = [head]
    for run in runs:
        one = next((r for r in runs if r.engine == run.engine and r.workers == 1), None)
        speedup = f"{one.wall_s / run.wall_s:.2f}x" if one else "-"
        core_s = run.wall_s * run.workers
        rows.append(
            f"{run.engine:<9}{run.workers:>8}{run.wall_s:>9.2f}{patients / run.wall_s:>12.1f}{mb / run.wall_s:>8.1f}"
            f"{core_s:>9.2f}{core_s / floor_s:>8.1f}x{speedup:>10}{run.peak_rss_mib:>14.0f}{run.worklist_sha:>14}"
            f"{run.exit_status:>6}"
        )
    same = len({r.worklist_sha for r in runs}) == 1
    rows.append(f"identical worklists across runs: {'yes' if same else 'NO'}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the export, measure the floor, run each engine at each worker count, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000, help="synthetic patients (up to 20,000)")
    parser.add_argument("--engines", default="embedded,spark")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--keep", help="write the export and outputs here instead of a temporary folder")
    args = parser.parse_args(argv)
    if not 1 <= args.patients <= 20_000:
        parser.error("--patients must be 1 to 20,000")
    with tempfile.TemporaryDirectory(prefix="cohort-bench-") as scratch:
        root = Path(args.keep or scratch)
        export = root / "export"
        write_export(export, args.patients)
        floor = parse_floor(export)
        load = os.getloadavg()
        print(
            f"cohort benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
            f"load average {load[0]:.2f} / {load[1]:.2f} at start, {args.patients:,} patients"
        )
        runs = [
            run_once(export, root / f"out-{engine}-{workers}", engine, workers)
            for engine in args.engines.split(",")
            for workers in (int(w) for w in args.workers.split(","))
        ]
        print(report(args.patients, floor, runs))
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
