"""Shared fixtures of the order-hook tests: the real app at a fixed NOW on a throw-away SQLite store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.hooks import SERVICE_IDS
from tests.conftest import NOW as NOW
from tests.conftest import REQUESTS as REQUESTS
from tests.conftest import ROOT as ROOT
from tests.conftest import AppFactory

SERVICE_URLS = {hook: f"/cds-services/{service_id}" for hook, service_id in SERVICE_IDS.items()}


def order_request(hook: str, name: str) -> dict[str, Any]:
    """One committed order-hook request fixture."""
    document: dict[str, Any] = json.loads((REQUESTS / hook / f"{name}.json").read_text(encoding="utf-8"))
    return document


def fixture_names(hook: str) -> list[str]:
    """Every committed request fixture of one hook."""
    return sorted(p.stem for p in (REQUESTS / hook).glob("*.json"))


@pytest.fixture()
def client(app_factory: AppFactory) -> FlaskClient:
    """The real app at the fixtures' NOW on a fresh SQLite file."""
    return app_factory().test_client()
