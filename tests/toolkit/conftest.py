"""A Flask app built only from cds_hooks pieces (the toolkit must work without the service package)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks import HookRequest, Prefetched, ServiceDefinition
from tests.conftest import hook_body as hook_body
from tests.conftest import toolkit_app
from tests.loopback import Loopback, loopback_fhir

PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "labs": "Observation?patient=Patient/{{context.patientId}}&_count=2",
}


def echo_handler(request: HookRequest, prefetched: Prefetched) -> dict[str, Any]:
    """Answers one card saying what the prefetch held (so tests can see resolution at work)."""
    labs = prefetched["labs"]
    count = len(labs.get("entry", [])) if isinstance(labs, dict) else 0
    patient = prefetched["patient"]
    name = "none" if patient is None else str(patient.get("id"))
    return {
        "cards": [
            {
                "summary": f"patient {name}, {count} labs",
                "indicator": "info",
                "source": {"label": "toolkit test"},
            }
        ]
    }


def build_app(handler: Any = echo_handler, **option_overrides: Any) -> Flask:
    """A toolkit-only app with one patient-view service called ``echo``."""
    return toolkit_app(
        ServiceDefinition("echo", "patient-view", "Echo", "Says what it got.", handler, PREFETCH), **option_overrides
    )


@pytest.fixture
def client() -> FlaskClient:
    """Test client of the toolkit-only app."""
    return build_app().test_client()


@pytest.fixture
def fhir() -> Iterator[Loopback]:
    """A loopback FHIR-shaped server."""
    with loopback_fhir() as state:
        yield state
