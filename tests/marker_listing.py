"""A pytest plugin for tests/test_markers.py: after collection, prints one JSON line per test with its markers."""

from __future__ import annotations

import json

import pytest

PREFIX = "MARKERS "
KNOWN = ("engine", "postgres", "browser", "serve")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Print ``MARKERS {"id": ..., "markers": [...]}`` for every collected test."""
    for item in session.items:
        marks = sorted({mark.name for mark in item.iter_markers() if mark.name in KNOWN})
        print(PREFIX + json.dumps({"id": item.nodeid, "markers": marks}))
