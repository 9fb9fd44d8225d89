"""A fhirServer off the allow-list is never contacted (not even once) and the call answers 412 with a reason."""

from __future__ import annotations

import pytest

from cds_hooks import ServerAllowList
from tests.loopback import loopback_server
from tests.security.conftest import build_app, hook_body

PREFETCH = {"patient": "Patient/{{context.patientId}}"}
TOKEN = {"access_token": "secret-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read"}


def call_with_server(allow_list: str, fhir_server: str) -> tuple[int, dict[str, object]]:
    """Call echo with an empty prefetch so the FHIR server would be needed."""
    app = build_app(allow_list=allow_list, prefetch=PREFETCH)
    body = hook_body(fhirServer=fhir_server, fhirAuthorization={**TOKEN, "subject": "cds"})
    rsp = app.test_client().post("/cds-services/echo", json=body)
    return rsp.status_code, rsp.get_json()


def test_server_off_the_allow_list_gets_no_request_and_412() -> None:
    with loopback_server() as fhir:
        status, body = call_with_server("https://hapi.fhir.org/baseR4", fhir.url("/fhir"))
        assert fhir.total == 0
    assert status == 412
    assert body["error"] == "precondition_failed"
    assert "allow-list" in str(body["message"])
    assert body["prefetch"] == ["patient"]


def test_empty_allow_list_contacts_nobody() -> None:
    with loopback_server() as fhir:
        status, _ = call_with_server("", fhir.url("/fhir"))
        assert fhir.total == 0
    assert status == 412


def test_loopback_entry_covers_any_port() -> None:
    with loopback_server() as fhir:
        fhir.routes["/fhir/Patient/p1"] = {"resourceType": "Patient", "id": "p1"}
        status, _ = call_with_server("http://127.0.0.1", fhir.url("/fhir"))
        assert fhir.hits["/fhir/Patient/p1"] == 1
    assert status == 200


def test_lookalike_host_gets_no_request() -> None:
    # The name resolves nowhere here; the point is that the allow-list refuses it before any DNS or socket.
    status, body = call_with_server("http://127.0.0.1", "http://127.0.0.1.evil.com:5555/fhir")
    assert status == 412 and "allow-list" in str(body["message"])


ALLOW = ServerAllowList.parse("http://127.0.0.1,http://localhost,http://[::1],https://hapi.fhir.org/baseR4")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1",
        "http://127.0.0.1/",
        "http://127.0.0.1:5555/fhir",
        "http://localhost:8080/r4",
        "http://[::1]:8080/fhir",
        "https://hapi.fhir.org/baseR4",
        "https://hapi.fhir.org/baseR4/",
        "https://hapi.fhir.org:443/baseR4",
        "HTTPS://HAPI.FHIR.ORG/baseR4",
    ],
)
def test_allowed(url: str) -> None:
    assert ALLOW.permits(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.evil.com",
        "http://127.0.0.1.evil.com:5555/fhir",
        "http://localhost.evil.com/fhir",
        "http://127.0.0.1@evil.com/fhir",
        "http://evil.com#@127.0.0.1",
        "http://evil.com?@127.0.0.1",
        "http://127.0.0.1\\@evil.com",
        "http://127.0.0.1:99999/",
        "https://127.0.0.1:5555/fhir",
        "http://hapi.fhir.org/baseR4",
        "https://hapi.fhir.org/baseR4x",
        "https://hapi.fhir.org:8443/baseR4",
        "https://hapi.fhir.org/baseR4/../admin",
        "https://hapi.fhir.org/baseR4/%2e%2e/admin",
        "https://hapi.fhir.org",
        "ftp://127.0.0.1/",
        "",
    ],
)
def test_refused(url: str) -> None:
    assert not ALLOW.permits(url)


def test_explicit_port_entry_is_exact() -> None:
    allow = ServerAllowList.parse("https://fhir.example.org:8443/r4")
    assert allow.permits("https://fhir.example.org:8443/r4/")
    assert not allow.permits("https://fhir.example.org/r4")
    assert not allow.permits("https://fhir.example.org:9443/r4")


def test_star_allows_any_and_empty_allows_none() -> None:
    assert ServerAllowList.parse("*").permits("https://anything.example.org/fhir")
    assert not ServerAllowList.parse("").permits("http://127.0.0.1/fhir")
