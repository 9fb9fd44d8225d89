"""``fasciculation-cds cohort --input SRC --out DIR [--engine embedded|spark] [--now ISO]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from service.cli_inputs import iso_instant, parse_now
from service.cohort.errors import CohortError

EXIT_FAILED = 2  # the run could not start or go on
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def _engine(args: argparse.Namespace) -> Any:
    try:
        if args.engine == "spark":
            from service.cohort.spark import SparkEngine

            return SparkEngine(args.master, args.workers)
        from service.cohort.embedded import EmbeddedEngine

        return EmbeddedEngine(args.workers, args.memory_limit)
    except ImportError as exc:
        extra = "spark" if args.engine == "spark" else "cohort"
        raise CohortError(f"the {args.engine} engine needs: pip install 'fasciculation-cds[{extra}]' ({exc})") from exc


def run(args: argparse.Namespace) -> int:
    """Screen every patient of an export folder (or of a live $export) and write the worklist."""
    try:
        engine = _engine(args)
    except CohortError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILED
    try:
        from service.cohort.run import run_cohort

        folder, source = Path(args.input), args.input
        if args.input.startswith(("http://", "https://")):
            from service.cohort.export_cli import export_to_folder

            folder = export_to_folder(args, Path(args.out))
        outcome = run_cohort(
            folder,
            Path(args.out),
            engine,
            now=parse_now(args.now) if args.now else None,
            resume=args.resume,
            source=source,
        )
    except CohortError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("cohort: interrupted (a live export was cancelled on the server; --resume goes on)\n")
        return EXIT_INTERRUPTED
    finally:
        engine.close()
    return outcome.exit_status


def add_cohort_parser(commands: Any) -> None:
    """Register the ``cohort`` subcommand."""
    co = commands.add_parser("cohort", help="screen every patient of a FHIR Bulk Data export; write a worklist")
    co.add_argument("--input", required=True, help="folder of NDJSON / Bundle files, or a FHIR base URL ($export)")
    co.add_argument("--out", required=True, help="output folder (worklist, responses, errors, summary)")
    co.add_argument("--engine", choices=["embedded", "spark"], default="embedded", help="DuckDB in-process or Spark")
    co.add_argument(
        "--now", type=iso_instant, help="screen as of this ISO-8601 instant (default: now; kept on --resume)"
    )
    co.add_argument("--resume", action="store_true", help="go on with an interrupted run in --out")
    co.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="screen processes (embedded)")
    co.add_argument("--memory-limit", default="2GB", help="DuckDB memory before it spills to disk (embedded)")
    co.add_argument("--master", default="local[*]", help="Spark master URL (spark): local[*], spark://…, yarn, k8s://…")
    from service.cohort.export_cli import add_export_arguments

    add_export_arguments(co)
    co.set_defaults(func=run)
