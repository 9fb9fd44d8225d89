"""A Flask app built only from cds_hooks pieces (the toolkit must work without the service package)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks import (
    EndpointOptions,
    FhirClientSettings,
    HookRequest,
    Prefetched,
    ServerAllowList,
    ServiceDefinition,
    ServiceRegistry,
    client_factory,
    create_blueprint,
    install_error_handlers,
)
from tests.loopback_fhir import LoopbackFhir, loopback_fhir

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
    registry = ServiceRegistry(
        [ServiceDefinition("echo", "patient-view", "Echo", "Says what it got.", handler, PREFETCH)]
    )
    settings = FhirClientSettings(connect_timeout_s=0.5, read_timeout_s=0.5, max_pages=3)
    options = EndpointOptions(client_factory=client_factory(ServerAllowList(None), settings), **option_overrides)
    app = Flask("toolkit-test")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.register_blueprint(create_blueprint(registry, options))
    install_error_handlers(app)
    return app


@pytest.fixture
def client() -> FlaskClient:
    """Test client of the toolkit-only app."""
    return build_app().test_client()


@pytest.fixture
def fhir() -> Iterator[LoopbackFhir]:
    """A loopback FHIR-shaped server."""
    with loopback_fhir() as state:
        yield state


def hook_body(**overrides: Any) -> dict[str, Any]:
    """A valid patient-view request body, with overrides."""
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "p1"},
    }
    body.update(overrides)
    return body
