"""The development SSRF edge (issue 23 row 9): with no allow-list configured, the FHIR fall-back may use loopback
servers, but never the service's own port nor a well-known database or broker port, and every refused target gets
the same answer (nothing is sent to it, so nothing tells an open port from a closed one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_hooks.urls import WELL_KNOWN_BACKEND_PORTS, ServerAllowList
from service.config import Settings
from service.security import fhir_allow_list
from tests.conftest import REQUESTS, service_app
from tests.loopback import serve_app

SERVICE = "/cds-services/fasciculation-reversible-causes"


def _fall_back_body(fhir_server: str) -> dict[str, Any]:
    """A patient-view call with no prefetch, so every key is fetched from ``fhir_server``."""
    body: dict[str, Any] = json.loads((REQUESTS / "patient-view" / "magnesium_first.json").read_bytes())
    body.pop("prefetch")
    return {**body, "fhirServer": fhir_server}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The real app with the development defaults (no allow-list, auth off) on a loopback socket."""
    with service_app(tmp_path) as app, serve_app(app) as url:
        yield url


def _answer(url: str, fhir_server: str) -> tuple[int, str]:
    answer = requests.post(f"{url}{SERVICE}", json=_fall_back_body(fhir_server), timeout=30)
    return answer.status_code, answer.json().get("message", "")


def test_own_port_and_database_ports_are_refused_alike(served: str) -> None:
    own = served.rsplit(":", 1)[1]
    targets = [f"http://127.0.0.1:{own}/fhir", f"http://localhost:{own}", "http://127.0.0.1:5432/fhir"]
    targets += [f"http://[::1]:{port}/fhir" for port in (3306, 6379, 27017)] + ["http://localhost:4222"]
    answers = {target: _answer(served, target) for target in targets}
    assert len(set(answers.values())) == 1, answers
    status, message = next(iter(answers.values()))
    assert status == 412 and "allow-list" in message


def test_the_guard_is_the_development_default_only() -> None:
    development = fhir_allow_list(Settings())
    assert development.loopback_guard and not development.permits("http://127.0.0.1:5432/fhir")
    assert not development.permits("http://127.0.0.1:8080/fhir", own_port=8080)
    assert development.permits("http://127.0.0.1:8081/fhir", own_port=8080)
    assert development.permits("https://r4.smarthealthit.org")
    configured = fhir_allow_list(Settings(fhir_server_allowlist="http://127.0.0.1"))
    assert not configured.loopback_guard and configured.permits("http://127.0.0.1:5432/fhir")  # the operator's choice
    assert {5432, 3306, 6379, 5672, 1883, 4222, 27017} <= WELL_KNOWN_BACKEND_PORTS
    assert ServerAllowList.parse("*").permits("http://127.0.0.1:5432")


def test_launch_with_the_services_own_port_as_iss_is_refused(served: str) -> None:
    own = served.rsplit(":", 1)[1]
    page = requests.get(f"{served}/workup/launch?launch=L1&iss=http://127.0.0.1:{own}/fhir", timeout=30)
    assert page.status_code == 403 and "FHIR server not allowed" in page.text
