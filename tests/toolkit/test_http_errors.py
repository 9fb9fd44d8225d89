"""Every error leaves as JSON with the right status and names the offending field."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.toolkit.conftest import build_app, hook_body

FULL_PREFETCH = {"patient": {"resourceType": "Patient", "id": "p1"}, "labs": None}


def test_discovery_lists_the_service(client: FlaskClient) -> None:
    rsp = client.get("/cds-services")
    assert rsp.status_code == 200
    service = rsp.get_json()["services"][0]
    assert service["id"] == "echo" and service["hook"] == "patient-view"
    assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def test_valid_call_returns_cards(client: FlaskClient) -> None:
    rsp = client.post("/cds-services/echo", json=hook_body(prefetch=FULL_PREFETCH))
    assert rsp.status_code == 200
    assert rsp.get_json() == {
        "cards": [{"summary": "patient p1, 0 labs", "indicator": "info", "source": {"label": "toolkit test"}}]
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hookInstance": "x1", "context": {"userId": "Practitioner/1", "patientId": "p1"}}, "hook"),
        (hook_body(hookInstance=None), "hookInstance"),
        (hook_body(hookInstance="has spaces\nand newline"), "hookInstance"),
        (hook_body(context="not an object"), "context"),
        (hook_body(context={"userId": "Practitioner/1"}), "context.patientId"),
        (hook_body(context={"userId": "Practitioner/1", "patientId": "p1&_id=x"}), "context.patientId"),
        (hook_body(context={"userId": "nobody", "patientId": "p1"}), "context.userId"),
        (hook_body(hook="order-sign"), "hook"),
        (hook_body(fhirServer="not a url"), "fhirServer"),
        (
            hook_body(
                fhirAuthorization={
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "patient/*.read",
                    "subject": "cds",
                }
            ),
            "fhirServer",
        ),
        (
            hook_body(fhirServer="http://127.0.0.1:1/fhir", fhirAuthorization={"access_token": "t"}),
            "fhirAuthorization.token_type",
        ),
        (hook_body(prefetch={"patient": "a string"}), "prefetch.patient"),
        (hook_body(prefetch=["not", "an", "object"]), "prefetch"),
    ],
)
def test_bad_request_names_the_field(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    rsp = client.post("/cds-services/echo", json=body)
    assert rsp.status_code == 400
    payload = rsp.get_json()
    assert payload["error"] == "bad_request"
    assert field in payload["fields"], payload


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"', b"[" * 5000 + b"]" * 5000])
def test_malformed_bodies_are_400(client: FlaskClient, raw: bytes) -> None:
    rsp = client.post("/cds-services/echo", data=raw, content_type="application/json")
    assert rsp.status_code == 400
    assert rsp.get_json()["error"] == "bad_request"


def test_unknown_service_is_404_json(client: FlaskClient) -> None:
    rsp = client.post("/cds-services/nope", json=hook_body())
    assert rsp.status_code == 404
    assert rsp.get_json()["error"] == "not_found"


def test_unknown_path_and_wrong_method_are_json(client: FlaskClient) -> None:
    assert client.get("/nowhere").get_json()["error"] == "not_found"
    rsp = client.get("/cds-services/echo")
    assert rsp.status_code == 405
    assert rsp.get_json()["error"] == "method_not_allowed"
    assert "POST" in rsp.headers["Allow"]


def test_oversized_body_is_413_json(client: FlaskClient) -> None:
    big = hook_body(prefetch={"patient": {"resourceType": "Patient", "id": "p1", "text": "x" * 70_000}})
    rsp = client.post("/cds-services/echo", json=big)
    assert rsp.status_code == 413
    assert rsp.get_json()["error"] == "request_entity_too_large"


def test_missing_prefetch_without_server_is_412(client: FlaskClient) -> None:
    rsp = client.post("/cds-services/echo", json=hook_body())
    assert rsp.status_code == 412
    payload = rsp.get_json()
    assert payload["error"] == "precondition_failed"
    assert sorted(payload["prefetch"]) == ["labs", "patient"]


def test_invalid_card_from_handler_is_not_sent() -> None:
    def bad_handler(*_: Any) -> dict[str, Any]:
        return {"cards": [{"summary": "x" * 140, "indicator": "urgent", "source": {}}]}

    rsp = build_app(bad_handler).test_client().post("/cds-services/echo", json=hook_body(prefetch=FULL_PREFETCH))
    assert rsp.status_code == 500
    assert rsp.get_json() == {"error": "internal_error", "message": "the service produced an invalid response"}


def test_crashing_handler_gives_json_500_without_trace() -> None:
    def crash(*_: Any) -> dict[str, Any]:
        raise RuntimeError("secret patient detail")

    rsp = build_app(crash).test_client().post("/cds-services/echo", json=hook_body(prefetch=FULL_PREFETCH))
    assert rsp.status_code == 500
    assert b"secret" not in rsp.data and b"Traceback" not in rsp.data
