"""The event seam: what the blueprint publishes for calls, prefetch and feedback, and failing subscribers."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks import CallFinished, CardsIssued, EventBus, FeedbackFinished, FetchOutcome, FhirFetchDone
from tests.loopback import Answer, Loopback
from tests.toolkit.conftest import build_app, hook_body
from tests.toolkit.test_prefetch_fallback import LABS_QUERY, authorization, page


def recording_bus() -> tuple[EventBus, list[Any]]:
    """A bus that keeps every toolkit event published on it."""
    bus, seen = EventBus(), []
    for kind in (CallFinished, CardsIssued, FhirFetchDone, FeedbackFinished):
        bus.subscribe(kind, seen.append)
    return bus, seen


def of_type(events: list[Any], kind: type) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


def test_a_call_publishes_fetch_cards_and_finish(fhir: Loopback) -> None:
    bus, seen = recording_bus()
    client = build_app(events=bus).test_client()
    fhir.route("Patient/p1", Answer({"resourceType": "Patient", "id": "p1"}))
    fhir.route(LABS_QUERY, Answer(page(fhir, [], None)))
    assert client.post("/cds-services/echo", json=hook_body(**authorization(fhir.base_url))).status_code == 200
    assert [type(event) for event in seen] == [FhirFetchDone, CardsIssued, CallFinished]
    fetch, issued, finished = seen
    assert (fetch.service_id, fetch.hook, fetch.outcome) == ("echo", "patient-view", FetchOutcome.FETCHED)
    assert issued.definition.id == "echo" and len(issued.response.cards) == 1
    assert (finished.service_id, finished.hook, finished.status) == ("echo", "patient-view", 200)
    assert finished.duration_s >= fetch.duration_s >= 0


def test_errors_are_published_with_their_status_and_bounded_labels() -> None:
    bus, seen = recording_bus()
    client = build_app(events=bus).test_client()
    assert client.post("/cds-services/echo", json=hook_body()).status_code == 412  # no prefetch, no fhirServer
    assert client.post("/cds-services/echo", data=b"{", content_type="application/json").status_code == 400
    assert client.post("/cds-services/../../etc", json={}).status_code == 404
    finished = of_type(seen, CallFinished)
    assert [(e.service_id, e.hook, e.status) for e in finished] == [
        ("echo", "patient-view", 412),
        ("unknown", "unknown", 400),  # the body never said which hook: no label from the request
    ]
    assert [e.outcome for e in of_type(seen, FhirFetchDone)] == [FetchOutcome.FAILED]
    assert not of_type(seen, CardsIssued)


def test_complete_prefetch_needs_no_server() -> None:
    bus, seen = recording_bus()
    client = build_app(events=bus).test_client()
    prefetch = {"patient": {"resourceType": "Patient", "id": "p1"}, "labs": None}
    assert client.post("/cds-services/echo", json=hook_body(prefetch=prefetch)).status_code == 200
    assert [e.outcome for e in of_type(seen, FhirFetchDone)] == [FetchOutcome.NOT_NEEDED]


def test_feedback_outcomes_are_counted() -> None:
    bus, seen = recording_bus()
    client = build_app(events=bus, feedback_sink=lambda service_id, items: {"stored": len(items)}).test_client()
    item = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2025-03-01T12:00:00Z"}
    assert client.post("/cds-services/echo/feedback", json={"feedback": [item, item]}).status_code == 200
    assert client.post("/cds-services/echo/feedback", json={"feedback": "x"}).status_code == 400
    assert [(e.service_id, e.status, dict(e.outcomes)) for e in of_type(seen, FeedbackFinished)] == [
        ("echo", 200, {"overridden": 2}),
        ("echo", 400, {}),
    ]


def test_a_failing_subscriber_neither_fails_the_call_nor_silences_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, seen = EventBus(), []

    def broken(event: CallFinished) -> None:
        raise RuntimeError("patient p1 broke it")

    bus.subscribe(CallFinished, broken)
    bus.subscribe(CallFinished, seen.append)
    prefetch = {"patient": {"resourceType": "Patient", "id": "p1"}, "labs": None}
    client = build_app(events=bus).test_client()
    assert client.post("/cds-services/echo", json=hook_body(prefetch=prefetch)).status_code == 200
    assert len(seen) == 1
    assert "event subscriber for CallFinished failed (RuntimeError)" in caplog.text and "p1" not in caplog.text


def test_a_failing_response_note_neither_fails_the_call_nor_leaks_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(response: Any) -> str:
        raise ValueError("patient p1 broke the note")

    prefetch = {"patient": {"resourceType": "Patient", "id": "p1"}, "labs": None}
    client = build_app(response_note=broken).test_client()
    with caplog.at_level("INFO"):
        assert client.post("/cds-services/echo", json=hook_body(prefetch=prefetch)).status_code == 200
    assert "response note failed (ValueError)" in caplog.text and "note=unavailable" in caplog.text
    assert "broke the note" not in caplog.text
