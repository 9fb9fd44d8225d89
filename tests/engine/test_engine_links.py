"""Links a real deployment can produce: next links on another origin (reverse proxy), spelling variants, redirects."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cds_hooks import FhirClient, HookRequest, PreconditionFailed, PrefetchResolver
from cds_hooks.errors import FhirHttpError, FhirServerNotAllowed
from cds_hooks.urls import same_server as _same_server
from tests.engine.conftest import ENGINE_TOKEN, EngineFactory
from tests.engine.engine_scenarios import fasciculation_transaction
from tests.engine.fhir_engine_harness import FhirEngine, load_transaction
from tests.loopback import running

CALCIUM = "http://loinc.org|17861-6"


def calcium_search(patient_id: str) -> str:
    """A calcium search for the scenario patient, two results a page."""
    return f"Observation?patient=Patient/{patient_id}&code={CALCIUM}&_count=2"


def test_next_link_behind_a_misconfigured_proxy_is_refused(
    engine_factory: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """An engine that writes its links for another origin: page one is read, the next link is refused (-> 412)."""
    engine = engine_factory(["--public-base", "http://fhir.internal.example:8080/fhir/R4"])
    patient_id = load_transaction(engine, fasciculation_transaction(), "proxied").patient_id
    client = FhirClient(engine.base_url, ENGINE_TOKEN)
    first = client.get_json(calcium_search(patient_id))
    assert first["link"][1]["url"].startswith("http://fhir.internal.example:8080/fhir/R4/Observation?")
    with caplog.at_level(logging.WARNING, logger="cds_hooks.fhir_client"), pytest.raises(FhirServerNotAllowed):
        client.fetch(calcium_search(patient_id))
    assert "http://fhir.internal.example:8080" in caplog.text
    resolver = PrefetchResolver({"labs": calcium_search("{{context.patientId}}")}, FhirClient)
    request = HookRequest(
        "patient-view", str(uuid.uuid4()), {"userId": "Practitioner/1", "patientId": patient_id}, engine.base_url
    )
    with pytest.raises(PreconditionFailed) as raised:
        resolver.resolve(request)
    assert raised.value.prefetch_keys == ["labs"]


def test_next_link_spelled_differently_is_followed(engine_factory: EngineFactory) -> None:
    """Host case differs between the base the client was given and the links the server writes: same server."""
    engine = engine_factory(["--public-base", "http://LocalHost:{port}/fhir/R4"])
    patient_id = load_transaction(engine, fasciculation_transaction(), "spelled").patient_id
    client = FhirClient(f"http://localhost:{engine.port}/fhir/R4", ENGINE_TOKEN)
    assert len(client.fetch(calcium_search(patient_id))["entry"]) == 6


@pytest.mark.parametrize(
    ("base", "link", "same"),
    [
        ("https://fhir.example.org/r4", "https://fhir.example.org:443/r4/Observation?page=2", True),
        ("https://fhir.example.org/r4", "https://FHIR.example.org/r4?_getpages=x", True),
        ("https://fhir.example.org/r4", "http://fhir.example.org/r4/Observation", False),
        ("https://fhir.example.org/r4", "https://fhir.example.org:8443/r4/Observation", False),
        ("https://fhir.example.org/r4", "https://fhir.example.org/r4x/Observation", False),
        ("https://fhir.example.org/r4", "https://fhir.example.org.evil.test/r4/Observation", False),
        ("https://fhir.example.org", "https://fhir.example.org?_getpages=x", True),
    ],
)
def test_same_server_rule(base: str, link: str, same: bool) -> None:
    """Scheme, host (any case) and port (explicit default or not) must match; the path must be at or below the base."""
    assert _same_server(base, link) is same


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self.send_response(302)
        self.send_header("Location", self.target + self.path.removeprefix("/fhir"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server signature
        """Keep the test output quiet."""


@pytest.fixture()
def redirector(engine: FhirEngine) -> Iterator[str]:
    """A loopback server answering every GET with 302 to the same path on the session engine."""
    handler = type("Redirect", (_Redirect,), {"target": engine.base_url})
    with running(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"


def test_redirects_are_not_followed(redirector: str, engine: FhirEngine) -> None:
    """A 3xx is an error answer: the client never follows it to a server the allow-list did not vouch for."""
    before = engine.log_path.read_text().count("\n")
    with pytest.raises(FhirHttpError) as raised:
        FhirClient(redirector, ENGINE_TOKEN).fetch("Patient/anything")
    assert raised.value.status == 302
    assert engine.log_path.read_text().count("\n") == before
