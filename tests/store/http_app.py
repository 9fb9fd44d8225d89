"""A Flask app built from cds_hooks pieces with our recorder and sink (tests serve it on a loopback socket)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from cds_hooks import (
    CardsIssued,
    EventBus,
    HookRequest,
    HookResponse,
    Prefetched,
    ServiceDefinition,
)
from service.feedback import card_recorder, feedback_sink
from service.store import Store
from tests.conftest import hook_body as call_body
from tests.conftest import toolkit_app
from tests.store.conftest import SERVICE_ID, CardSpec, response

RULES = ("low-magnesium", "low-calcium", "thyroid", "statin", "salbutamol")


def card_specs(hook_instance: str) -> list[CardSpec]:
    """The cards answered for ``hook_instance`` (uuids derived from it, so tests can name them)."""
    base = uuid.UUID(hook_instance)
    return [
        CardSpec(rule, card_uuid=str(uuid.uuid5(base, rule)), suggestion_uuid=str(uuid.uuid5(base, rule + "/s")))
        for rule in RULES
    ]


def _handler(request: HookRequest, prefetched: Prefetched) -> HookResponse:
    return response(*card_specs(request.hook_instance))


def build_app(store: Store, hash_key: str | None = "http-test-key") -> Flask:
    """One patient-view service whose cards are recorded and whose feedback is stored."""
    definition = ServiceDefinition(SERVICE_ID, "patient-view", "Store test", "Five cards per call.", _handler)
    events = EventBus()
    record_cards = card_recorder(store, hash_key)
    events.subscribe(CardsIssued, lambda issued: record_cards(issued.definition, issued.request, issued.response))
    return toolkit_app(
        definition, max_pages=1, max_body=10 * 1024 * 1024, feedback_sink=feedback_sink(store), events=events
    )


def hook_body(hook_instance: str, patient_id: str = "pat-secret-42") -> dict[str, Any]:
    """A patient-view call."""
    return call_body(hookInstance=hook_instance, context={"userId": "Practitioner/1", "patientId": patient_id})
