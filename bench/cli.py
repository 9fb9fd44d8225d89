"""``python bench/run.py``: build the request bodies, take every measurement, print the table."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.bodies import realistic_body, release_sources, resource_count, sized_body
from bench.fallback import fallback_table, measure_fallback
from bench.http_load import LoadResult, run_python, run_wrk, served, server_command, wrk_version
from bench.inprocess import SERVICE_PATH, discovered_layout, make_app, measure_body, screen_once, temp_database_url
from bench.memory import measure_in_subprocess
from bench.report import HttpRow, floor_table, http_table, memory_table, screen_table, summarise


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def build_parser() -> argparse.ArgumentParser:
    """Command-line options (defaults are the published benchmark)."""
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__)
    parser.add_argument("--sizes", type=_ints, default=[10, 100, 1000, 10000], help="prefetch sizes (resources)")
    parser.add_argument("--runs", type=int, default=5, help="in-process runs per size (median reported)")
    parser.add_argument("--concurrency", type=_ints, default=[1, 8], help="HTTP client concurrencies")
    parser.add_argument("--http-runs", type=int, default=3, help="HTTP runs per concurrency (median reported)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per HTTP run (max 60)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--memory-size", type=int, default=10000, help="resources for the peak-RSS call")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-floor", action="store_true", help="no framework-floor run (no service/floor ratios)")
    parser.add_argument("--fallback-calls", type=int, default=30, help="no-prefetch calls per fall-back row")
    parser.add_argument("--skip-fallback", action="store_true", help="no FHIR fall-back section (needs node)")
    return parser


def _now() -> datetime:
    """Today at midnight UTC: the screen's clock, and the anchor of the bodies' recent lab dates."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _emit(lines: Sequence[str]) -> None:
    sys.stdout.write("\n".join(lines) + "\n\n")
    sys.stdout.flush()


def _generator(choice: str) -> tuple[str, bool]:
    """(description, use wrk?) for the requested load generator."""
    version = wrk_version()
    if choice == "wrk" and version is None:
        raise SystemExit("error: --load-generator wrk but wrk is not installed")
    if choice != "python" and version is not None:
        return f"{version}, 1 thread, Lua POST script", True
    return "Python client (threads + http.client keep-alive)", False


def _load_rows(args: argparse.Namespace, body: bytes, database_url: str, floor: bool) -> list[HttpRow]:
    """Serve the service (or the floor app), warm it up, load it at each concurrency; medians per concurrency."""
    _, use_wrk = _generator(args.load_generator)
    duration = min(max(args.duration, 1.0), 60.0)
    load = run_wrk if use_wrk else run_python
    rows: list[HttpRow] = []
    with served(args.workers, database_url, floor=floor) as port:
        load(port, SERVICE_PATH, body, 2, 2.0)  # warm-up (imports, caches, SQLite file)
        for concurrency in args.concurrency:
            results: list[LoadResult] = [
                load(port, SERVICE_PATH, body, concurrency, duration) for _ in range(args.http_runs)
            ]
            rows.append(summarise(concurrency, results))
    return rows


def http_section(args: argparse.Namespace, body: bytes, cards: int, database_url: str) -> list[str]:
    """Serve with gunicorn, load at each concurrency, and summarise; then the floor app, and the ratios."""
    description, _ = _generator(args.load_generator)
    duration = min(max(args.duration, 1.0), 60.0)
    rows = _load_rows(args, body, database_url, floor=False)
    floor_rows = [] if args.skip_floor else _load_rows(args, body, database_url, floor=True)
    program = "fasciculation-cds" if len(server_command()) == 1 else "python -m service.cli"
    header = (
        f"HTTP: {program} serve --workers {args.workers} on 127.0.0.1, realistic patient "
        f"({resource_count(body)} resources, {len(body) / 1024:.1f} KB, {cards} cards), load generator: {description}, "
        f"{args.http_runs} x {duration:.0f} s per row (medians)"
    )
    lines = http_table(rows, header)
    return lines if args.skip_floor else [*lines, "", *floor_table(rows, floor_rows)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    args = build_parser().parse_args(argv)
    now = _now()
    load1, load5, _ = os.getloadavg()
    _emit(
        [
            f"fasciculation-cds benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, load average {load1:.2f} / {load5:.2f} (1 / 5 min) at start"
        ]
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        _measure(args, now, Path(folder))
    return 0


def _measure(args: argparse.Namespace, now: datetime, scratch: Path) -> None:
    """Every section, in order, with databases under ``scratch``."""
    app = make_app(now, temp_database_url(scratch))
    layout = discovered_layout(app)
    realistic = realistic_body(now, layout)
    bodies = [sized_body(size, now, layout) for size in args.sizes]
    memory_body = b"" if args.skip_memory else sized_body(args.memory_size, now, layout)
    release_sources()
    realistic_cards = len(orjson.loads(screen_once(app, realistic))["cards"])
    rows = [measure_body(app, body, args.runs) for body in bodies]
    _emit(screen_table(rows, args.runs))
    if not args.skip_http:
        _emit(http_section(args, realistic, realistic_cards, temp_database_url(scratch)))
    if not args.skip_memory:
        figures = measure_in_subprocess(memory_body, temp_database_url(scratch), now)
        _emit(memory_table(args.memory_size, figures))
    if not args.skip_fallback:
        name, loaded, fallback_rows = measure_fallback(now, scratch, max(1, args.fallback_calls))
        _emit(fallback_table(name, loaded, fallback_rows))
