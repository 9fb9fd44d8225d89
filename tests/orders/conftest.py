"""Shared fixtures of the order-hook tests: the real app at a fixed NOW on a throw-away SQLite store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.hooks import SERVICE_IDS

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ROOT / "fixtures" / "requests"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
SERVICE_URLS = {hook: f"/cds-services/{service_id}" for hook, service_id in SERVICE_IDS.items()}


def order_request(hook: str, name: str) -> dict[str, Any]:
    """One committed order-hook request fixture."""
    document: dict[str, Any] = json.loads((REQUESTS / hook / f"{name}.json").read_text(encoding="utf-8"))
    return document


def fixture_names(hook: str) -> list[str]:
    """Every committed request fixture of one hook."""
    return sorted(p.stem for p in (REQUESTS / hook).glob("*.json"))


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    app = create_app(config={"clock": lambda: NOW, "database_url": f"sqlite:///{tmp_path / 'cds.db'}"})
    try:
        yield app.test_client()
    finally:
        app.extensions["fasciculation_cds.store"].close()
