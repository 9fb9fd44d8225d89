"""``fasciculation-cds purge``: delete what is past retention now (the service also does it every hour)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from service.config import load_settings

EXIT_UNAVAILABLE = 3


def add_purge_parser(commands: Any) -> None:
    """The ``purge`` subcommand."""
    parser = commands.add_parser(
        "purge", help="delete issued cards and feedback past CDS_RETENTION_DAYS, and expired sessions"
    )
    parser.add_argument("--days", type=int, help="retention in days for this run (default: CDS_RETENTION_DAYS)")
    parser.set_defaults(func=run_purge)


def run_purge(args: argparse.Namespace) -> int:
    """Purge the configured database; print what was deleted as JSON (exit 3 when the database is unavailable)."""
    from sqlalchemy.exc import SQLAlchemyError  # SQLAlchemy only when purging, not when the CLI starts

    from service.store import open_store, utc_now
    from service.store.resilience import describe
    from service.store.retention import purge

    settings = load_settings()
    days = settings.retention_days if args.days is None else args.days
    try:
        store = open_store(settings)
        try:
            counts = purge(store.engine, utc_now(), days)
        finally:
            store.close()
    except SQLAlchemyError as exc:
        sys.stderr.write(f"error: the database is unavailable ({describe(exc)})\n")
        return EXIT_UNAVAILABLE
    sys.stdout.write(orjson.dumps({"retentionDays": days, "deleted": counts.to_json()}).decode() + "\n")
    return 0
