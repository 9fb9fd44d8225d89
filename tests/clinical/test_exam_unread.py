"""Exam findings that could not be had are said on every card (safety: a card must not read as "no red flags").

``examObservations`` is the one optional prefetch key: a client configured before it existed may leave it out, and
when it cannot be fetched either, the patient is still screened from Conditions alone. Every card then carries the
knowledge base's ``exam_unread_note``; a key that was sent (even as ``null``, "no data") or fetched adds nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.cards import CARD_EXTENSION
from service.hooks import SERVICE_IDS
from service.knowledge import load_knowledge
from service.prefetch_keys import EXAM_KEY
from tests.conftest import REQUESTS, AppFactory
from tests.loopback import Answer, loopback_fhir

NOTE = load_knowledge().cards.phrases["exam_unread_note"]
MAGNESIUM_FIRST = ["lab.magnesium.low", "lab.potassium.low"]
EMPTY_SEARCHSET = {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}


def request_fixture(hook: str, name: str) -> dict[str, Any]:
    """A committed request (it sends every prefetch key, the exam one included)."""
    document: dict[str, Any] = json.loads((REQUESTS / hook / f"{name}.json").read_text(encoding="utf-8"))
    return document


def without_exam(hook: str, name: str) -> dict[str, Any]:
    """The committed request as a client configured before the exam key existed would send it."""
    body = request_fixture(hook, name)
    del body["prefetch"][EXAM_KEY]
    return body


@pytest.fixture
def client(app_factory: AppFactory) -> FlaskClient:
    return app_factory().test_client()


def answered(client: FlaskClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The cards of one call (which must succeed)."""
    response = client.post(f"/cds-services/{SERVICE_IDS[body['hook']]}", json=body)
    assert response.status_code == 200, response.get_json()
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def rule_ids(cards: list[dict[str, Any]]) -> list[str]:
    return [card["extension"][CARD_EXTENSION]["ruleId"] for card in cards]


def test_the_note_names_what_was_not_considered() -> None:
    assert "not read" in NOTE and all(sign in NOTE for sign in ("weakness", "wasting", "bulbar", "fasciculations"))


def test_left_out_with_no_fhir_server_every_card_says_the_exam_was_not_read(client: FlaskClient) -> None:
    cards = answered(client, without_exam("patient-view", "magnesium_first"))
    assert rule_ids(cards) == MAGNESIUM_FIRST  # the same cards as with the key: still screened
    assert all(NOTE in card["detail"] for card in cards)


@pytest.mark.parametrize("exam", ["sent", "null"])
def test_an_exam_key_sent_or_sent_as_no_data_adds_no_note(client: FlaskClient, exam: str) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    if exam == "null":
        body["prefetch"][EXAM_KEY] = None
    cards = answered(client, body)
    assert rule_ids(cards) == MAGNESIUM_FIRST
    assert not any(NOTE in card["detail"] for card in cards)


def test_an_exam_query_the_fhir_server_fails_is_said_on_every_card(client: FlaskClient) -> None:
    body = without_exam("patient-view", "magnesium_first")
    with loopback_fhir() as fhir:  # no routes: the exam search gets a 404
        body["fhirServer"] = fhir.base_url
        cards = answered(client, body)
        assert [r.path.split("?")[0] for r in fhir.requests] == ["/fhir/Observation"]  # only the missing key
    assert rule_ids(cards) == MAGNESIUM_FIRST
    assert all(NOTE in card["detail"] for card in cards)


def test_an_exam_query_the_fhir_server_answers_adds_no_note(client: FlaskClient) -> None:
    body = without_exam("patient-view", "magnesium_first")
    with loopback_fhir() as fhir:
        body["fhirServer"] = fhir.base_url
        answered(client, body)
        (asked,) = fhir.requests
        fhir.routes[asked.path] = Answer(EMPTY_SEARCHSET)
        cards = answered(client, body)
    assert rule_ids(cards) == MAGNESIUM_FIRST
    assert not any(NOTE in card["detail"] for card in cards)


@pytest.mark.parametrize(("hook", "name"), [("order-select", "succinylcholine_als"), ("order-sign", "new_lithium")])
def test_order_hook_cards_say_it_too(client: FlaskClient, hook: str, name: str) -> None:
    with_exam = answered(client, request_fixture(hook, name))
    cards = answered(client, without_exam(hook, name))
    assert cards and rule_ids(cards) == rule_ids(with_exam)
    assert all(NOTE in card["detail"] for card in cards)
    assert not any(NOTE in card["detail"] for card in with_exam)
