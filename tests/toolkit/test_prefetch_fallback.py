"""Prefetch resolution: absent, null, OperationOutcome and paged keys, against a real loopback FHIR server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.loopback import Answer, Loopback
from tests.toolkit.conftest import build_app, hook_body

LABS_QUERY = "Observation?patient=Patient/p1&_count=2"
TOKEN = "lent-access-token"


def authorization(server: str) -> dict[str, Any]:
    """fhirServer + fhirAuthorization for a hook body."""
    return {
        "fhirServer": server,
        "fhirAuthorization": {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
        },
    }


def obs(n: int) -> dict[str, Any]:
    """A searchset entry holding Observation n."""
    return {"resource": {"resourceType": "Observation", "id": f"o{n}"}}


def page(fhir: Loopback, entries: list[dict[str, Any]], next_path: str | None) -> dict[str, Any]:
    """A searchset page, with a next link on the loopback server."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    if next_path:
        bundle["link"] = [{"relation": "next", "url": f"{fhir.base_url}/{next_path}"}]
    return bundle


def summary(client: FlaskClient, body: dict[str, Any]) -> str:
    """Call the echo service and return its card summary."""
    rsp = client.post("/cds-services/echo", json=body)
    assert rsp.status_code == 200, rsp.get_json()
    return str(rsp.get_json()["cards"][0]["summary"])


def test_absent_keys_are_fetched_with_the_lent_token(client: FlaskClient, fhir: Loopback) -> None:
    fhir.route("Patient/p1", Answer({"resourceType": "Patient", "id": "p1"}))
    fhir.route(LABS_QUERY, Answer(page(fhir, [obs(1)], None)))
    assert summary(client, hook_body(**authorization(fhir.base_url))) == "patient p1, 1 labs"
    assert sorted(r.path for r in fhir.requests) == [
        "/fhir/Observation?patient=Patient/p1&_count=2",
        "/fhir/Patient/p1",
    ]
    assert {r.authorization for r in fhir.requests} == {f"Bearer {TOKEN}"}


def test_null_key_means_no_data_and_is_not_fetched(client: FlaskClient, fhir: Loopback) -> None:
    body = hook_body(prefetch={"patient": None, "labs": None}, **authorization(fhir.base_url))
    assert summary(client, body) == "patient none, 0 labs"
    assert fhir.requests == []


def test_operation_outcome_in_prefetch_is_fetched_again(client: FlaskClient, fhir: Loopback) -> None:
    fhir.route(LABS_QUERY, Answer(page(fhir, [obs(1), obs(2)], None)))
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    body = hook_body(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}, "labs": outcome})
    body.update(authorization(fhir.base_url))
    assert summary(client, body) == "patient p1, 2 labs"
    assert [r.path for r in fhir.requests] == ["/fhir/" + LABS_QUERY]


def test_paged_prefetch_is_completed_from_the_server(client: FlaskClient, fhir: Loopback) -> None:
    fhir.route("page2", Answer(page(fhir, [obs(3), obs(4)], "page3")))
    fhir.route("page3", Answer(page(fhir, [obs(5)], None)))
    first = page(fhir, [obs(1), obs(2)], "page2")
    body = hook_body(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}, "labs": first})
    body.update(authorization(fhir.base_url))
    assert summary(client, body) == "patient p1, 5 labs"


def test_paging_stops_at_the_cap(client: FlaskClient, fhir: Loopback) -> None:
    for n in range(2, 10):
        fhir.route(f"page{n}", Answer(page(fhir, [obs(n)], f"page{n + 1}")))
    fhir.route(LABS_QUERY, Answer(page(fhir, [obs(1)], "page2")))
    fhir.route("Patient/p1", Answer({"resourceType": "Patient", "id": "p1"}))
    assert summary(client, hook_body(**authorization(fhir.base_url))) == "patient p1, 3 labs"


def test_next_link_to_another_server_is_refused(client: FlaskClient, fhir: Loopback) -> None:
    first = page(fhir, [obs(1)], None)
    first["link"] = [{"relation": "next", "url": "http://127.0.0.2:9/fhir/steal"}]
    body = hook_body(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}, "labs": first})
    body.update(authorization(fhir.base_url))
    rsp = client.post("/cds-services/echo", json=body)
    assert rsp.status_code == 412
    assert rsp.get_json()["prefetch"] == ["labs"]


def test_paged_prefetch_without_server_is_412(client: FlaskClient, fhir: Loopback) -> None:
    body = hook_body(prefetch={"patient": None, "labs": page(fhir, [obs(1)], "page2")})
    rsp = client.post("/cds-services/echo", json=body)
    assert rsp.status_code == 412


@pytest.mark.parametrize(
    "answer",
    [
        Answer({"resourceType": "OperationOutcome"}, status=500),
        Answer(raw=b"<html>gateway</html>", content_type="text/html"),
        Answer([1, 2, 3]),
        Answer({"resourceType": "OperationOutcome", "issue": [{"code": "forbidden"}]}),
        Answer({"resourceType": "Patient", "id": "p1"}, delay_s=2.0),
    ],
    ids=["http-500", "non-json", "json-not-resource", "operation-outcome-200", "read-timeout"],
)
def test_unusable_fhir_server_answers_412_fast(fhir: Loopback, answer: Answer) -> None:
    client = build_app().test_client()
    fhir.route("Patient/p1", answer)
    fhir.route(LABS_QUERY, Answer(page(fhir, [obs(1)], None)))
    started = time.perf_counter()
    rsp = client.post("/cds-services/echo", json=hook_body(**authorization(fhir.base_url)))
    elapsed = time.perf_counter() - started
    assert rsp.status_code == 412
    assert rsp.get_json()["prefetch"] == ["patient"]
    assert elapsed < 1.5  # read timeout is 0.5 s in the test app; a hang would show here


def test_unreachable_fhir_server_is_412(client: FlaskClient) -> None:
    rsp = client.post("/cds-services/echo", json=hook_body(**authorization("http://127.0.0.1:9/fhir")))
    assert rsp.status_code == 412
    assert rsp.get_json()["error"] == "precondition_failed"
