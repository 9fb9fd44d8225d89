"""What EHRs really send: cardinality quirks, no Bundle.type, unknown and extension elements, invalid unread elements.

Each quirk is applied to a committed request whose cards are known, in prefetch, in a FHIR fall-back answer and in
draftOrders; the cards must not change. A resource is skipped only when an element a rule needs cannot be read,
and then one log line per request names the resource type, the element and the rules.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.cards import CARD_EXTENSION
from service.hooks import SERVICE_IDS
from tests.conftest import REQUESTS, AppFactory
from tests.loopback import Answer, loopback_fhir

MAGNESIUM_FIRST = ["lab.magnesium.low", "lab.potassium.low"]
Resource = dict[str, Any]


def request_fixture(hook: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REQUESTS / hook / f"{name}.json").read_text(encoding="utf-8"))
    return document


@pytest.fixture
def client(app_factory: AppFactory) -> FlaskClient:
    return app_factory().test_client()


def cards(client: FlaskClient, body: dict[str, Any]) -> list[str]:
    response = client.post(f"/cds-services/{SERVICE_IDS[body['hook']]}", json=body)
    assert response.status_code == 200, response.get_json()
    return [card["extension"][CARD_EXTENSION]["ruleId"] for card in response.get_json()["cards"]]


def resources(bundle: dict[str, Any]) -> list[Resource]:
    return [entry["resource"] for entry in bundle["entry"]]


def by_loinc(bundle: dict[str, Any], loinc: str) -> Resource:
    return next(r for r in resources(bundle) if r["code"]["coding"][0]["code"] == loinc)


MAGNESIUM, POTASSIUM = "19123-9", "2823-3"


def _array_where_single(resource: Resource) -> None:
    resource["code"] = [resource["code"]]
    resource["valueQuantity"] = [resource["valueQuantity"]]


def _single_where_array(resource: Resource) -> None:
    resource["code"]["coding"] = resource["code"]["coding"][0]
    resource["category"] = {"coding": [{"code": "laboratory"}]}
    # The resource's own range as a lone object (a magnesium range on the potassium would contradict its LL flag).
    resource["referenceRange"] = resource["referenceRange"][0]
    resource["interpretation"] = {"coding": [{"code": "LL"}]}


def _unknown_and_extension_elements(resource: Resource) -> None:
    resource["fooBar"] = {"anything": True}
    resource["code"]["coding"][0]["userSelected"] = "maybe"  # invalid, but no rule reads it
    resource["code"]["coding"][0]["vendorFlag"] = 1  # unknown nested element
    resource["extension"] = [{"valueString": "no url"}]  # invalid extension
    resource["valueQuantity"]["extension"] = "not even a list"
    resource["_status"] = {"extension": [{"url": "http://example.org/x", "valueBoolean": "yes"}]}


def _invalid_unread_elements(resource: Resource) -> None:
    resource["encounter"] = 42
    resource["note"] = "should be a list of Annotation"
    resource["performer"] = [{"reference": 7}]
    resource["meta"] = {"lastUpdated": "yesterday"}
    resource["category"] = None


QUIRKS: dict[str, Callable[[Resource], None]] = {
    "array where R4 says single": _array_where_single,
    "single object where R4 says array": _single_where_array,
    "unknown and extension elements": _unknown_and_extension_elements,
    "invalid elements no rule reads": _invalid_unread_elements,
}


@pytest.mark.parametrize("quirk", QUIRKS)
def test_prefetch_quirks_do_not_cost_the_resource(
    client: FlaskClient, quirk: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    labs = body["prefetch"]["labs"]
    del labs["type"]  # missing Bundle.type
    for resource in [by_loinc(labs, MAGNESIUM), by_loinc(labs, POTASSIUM)]:
        QUIRKS[quirk](resource)
    with caplog.at_level(logging.WARNING):
        assert cards(client, body) == MAGNESIUM_FIRST
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_condition_with_a_lone_coding_object_is_still_read(client: FlaskClient) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    for condition in resources(body["prefetch"]["conditions"]):
        condition["code"]["coding"] = condition["code"]["coding"][0]
        condition["clinicalStatus"]["coding"] = condition["clinicalStatus"]["coding"][0]
        condition["extension"] = [{"url": 5}]
    assert cards(client, body) == MAGNESIUM_FIRST


def test_a_lone_entry_object_is_read(client: FlaskClient) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    conditions = body["prefetch"]["conditions"]
    fasciculation = next(e for e in conditions["entry"] if "82470000" in json.dumps(e))
    conditions["entry"] = fasciculation  # a single entry object where R4 says array
    assert cards(client, body) == MAGNESIUM_FIRST


def test_unreadable_needed_elements_skip_with_one_log_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    labs = body["prefetch"]["labs"]
    by_loinc(labs, MAGNESIUM)["valueQuantity"]["value"] = "one point one"
    by_loinc(labs, POTASSIUM)["valueQuantity"]["value"] = "3,1"
    with caplog.at_level(logging.WARNING):
        rules = cards(client, body)
    assert "lab.magnesium.low" not in rules and "lab.potassium.low" not in rules
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1, skipped  # one aggregated line per request
    (line,) = skipped
    assert f"hookInstance={body['hookInstance']}" in line and "2 resources" in line
    assert "Observation 1 (valueQuantity.value unreadable; rules lab.magnesium)" in line
    assert "Observation 1 (valueQuantity.value unreadable; rules lab.potassium)" in line
    assert "magnesium-first" not in line and "one point one" not in line  # no patient data


def test_fhir_fallback_answers_are_read_tolerantly(client: FlaskClient) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    labs = body["prefetch"].pop("labs")
    labs.pop("type")
    for resource in resources(labs):
        _array_where_single(resource)
    with loopback_fhir() as fhir:
        body["fhirServer"] = fhir.base_url
        client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)  # labs: 404 from the server
        (asked,) = fhir.requests  # the exact search the service sends for "labs"
        fhir.routes[asked.path] = Answer(labs)
        assert cards(client, body) == MAGNESIUM_FIRST
        assert [r.path for r in fhir.requests] == [asked.path, asked.path]


def _sandbox_like_draft(body: dict[str, Any]) -> Resource:
    drafts = body["context"]["draftOrders"]
    drafts.pop("type", None)
    draft: Resource = drafts["entry"][0]["resource"]
    draft["category"] = {"coding": [{"code": "community"}]}
    draft["medicationCodeableConcept"] = [draft["medicationCodeableConcept"]]
    draft["medicationCodeableConcept"][0]["coding"] = draft["medicationCodeableConcept"][0]["coding"][0]
    draft["dosageInstruction"] = "twice a day"
    draft["unknownVendorField"] = {"x": 1}
    return draft


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_draft_order_quirks_keep_the_culprit_card(client: FlaskClient, hook: str) -> None:
    body = request_fixture(hook, "new_lithium")
    _sandbox_like_draft(body)
    body["context"]["draftOrders"]["entry"] = body["context"]["draftOrders"]["entry"][0]  # lone entry object
    assert cards(client, body) == ["drug.lithium"]


def test_a_recognised_culprit_with_unreadable_elements_is_never_dropped(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = request_fixture("order-select", "new_lithium")
    draft = _sandbox_like_draft(body)
    draft["authoredOn"] = "when signed"
    draft["subject"] = "Patient/fasciculation-normal-labs"
    draft["medicationCodeableConcept"][0]["coding"]["version"] = 2024  # invalid inside the coding
    with caplog.at_level(logging.WARNING):
        assert cards(client, body) == ["drug.lithium"]
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_unreadable_needed_element_in_a_prefetched_medication_is_logged(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = copy.deepcopy(request_fixture("patient-view", "magnesium_first"))
    (omeprazole,) = resources(body["prefetch"]["medicationRequests"])
    omeprazole["authoredOn"] = "two years ago"
    with caplog.at_level(logging.WARNING):
        cards(client, body)
    (line,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "MedicationRequest 1 (authoredOn unreadable; rules drug." in line
