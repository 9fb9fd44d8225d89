"""Command-line arguments of a live $export (filled in below)."""

from __future__ import annotations

from typing import Any


def add_export_arguments(parser: Any) -> None:
    """No export arguments yet."""
