"""What the command line reads: a FHIR Bundle file (plain or gzip-compressed JSON) and an optional ``--now``."""

from __future__ import annotations

import argparse
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson


def parse_now(text: str | None) -> datetime:
    """``--now`` as an aware datetime (UTC when no offset is given); the real clock when absent."""
    if text is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_instant(text: str) -> str:
    """``--now`` checked as argparse reads it, so a bad value is a one-line usage error (exit 2), not a traceback."""
    try:
        parse_now(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 date or datetime: {text!r} (e.g. 2026-11-20T12:00Z)"
        ) from exc
    return text


def read_bundle_file(path: str) -> dict[str, Any]:
    """The Bundle in ``path`` (``*.gz`` is decompressed); SystemExit with the reason when it cannot be read."""
    try:
        raw = Path(path).read_bytes()
        document = orjson.loads(gzip.decompress(raw) if path.endswith(".gz") else raw)
    except (OSError, EOFError, gzip.BadGzipFile, orjson.JSONDecodeError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise SystemExit(f"error: {path} is not a FHIR Bundle")
    return document
