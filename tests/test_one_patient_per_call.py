"""One patient per call (issue 22): nothing of another patient ever reaches a card, whichever way data arrives.

Through the real app on a socket (prefetch, the FHIR fall-back from a loopback server that ignores ``patient=``,
``draftOrders``), the work-up fetch, and ``evaluate`` (``--bundle`` and ``--fhir-server``).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from requests.utils import requote_uri

from cds_hooks import render_template
from service.cards import CARD_EXTENSION
from service.cli import main
from service.facts.ownership import PatientInContext
from service.facts.records import build_record
from service.hooks import SERVICE_IDS, patient_prefetch
from service.knowledge import load_knowledge
from service.workup.fetch import Grant, read_record
from service.workup.messages import WorkupStop
from tests.conftest import NOW, REQUESTS, ROOT, AppFactory
from tests.loopback import Answer, Loopback, loopback_fhir, serve_app

KNOWLEDGE = load_knowledge()
NOTE = KNOWLEDGE.cards.phrases["foreign_left_out_note"]
OTHER = "another-patient-123"
MG_LOW = "lab.magnesium.low"
HL7_CS = "http://terminology.hl7.org/CodeSystem"


def request_fixture(hook: str, name: str) -> dict[str, Any]:
    """A committed request."""
    body: dict[str, Any] = json.loads((REQUESTS / hook / f"{name}.json").read_text(encoding="utf-8"))
    return body


def foreign_magnesium(subject: str = f"Patient/{OTHER}") -> dict[str, Any]:
    """Another patient's normal magnesium, drawn after everything in the fixtures (it would hide a low one)."""
    return {
        "resourceType": "Observation",
        "id": "other-mg",
        "status": "final",
        "category": [{"coding": [{"system": f"{HL7_CS}/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "19123-9"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-11-20T08:00:00Z",
        "valueQuantity": {"value": 2.1, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
    }


def with_foreign_lab(body: dict[str, Any], lab: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request with another patient's magnesium among its labs."""
    body = copy.deepcopy(body)
    body["prefetch"]["labs"]["entry"].insert(0, {"resource": lab or foreign_magnesium()})
    return body


def rule_ids(cards: list[dict[str, Any]]) -> list[str]:
    return [card["extension"][CARD_EXTENSION]["ruleId"] for card in cards]


@pytest.fixture
def base_url(app_factory: AppFactory) -> Iterator[str]:
    """The real app on a loopback socket."""
    app: Flask = app_factory()
    with serve_app(app) as url:
        yield url


def call(base_url: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{base_url}/cds-services/{SERVICE_IDS[body['hook']]}", json=body, timeout=30)


def test_the_issue_reproduction_gets_no_cards_and_a_412_naming_the_key(base_url: str) -> None:
    body = request_fixture("patient-view", "lithium_no_level")
    body["context"]["patientId"] = OTHER
    response = call(base_url, body)
    assert response.status_code == 412
    document = response.json()
    assert "cards" not in document
    assert document["error"] == "wrong_patient" and document["prefetch"] == ["patient"]
    assert document["disagrees"] == ["prefetch.patient", "context.patientId"]


def test_another_patients_lab_in_prefetch_is_left_out_and_every_card_says_so(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    assert NOTE not in json.dumps(call(base_url, body).json())
    with caplog.at_level(logging.WARNING):
        response = call(base_url, with_foreign_lab(body))
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert MG_LOW in rule_ids(cards)  # the other patient's normal magnesium did not hide this patient's low one
    assert all(NOTE in card["detail"] for card in cards)
    (line,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "Observation 1 (another patient's)" in line and OTHER not in line and "other-mg" not in line


@pytest.mark.parametrize(
    "subject",
    ["http://elsewhere.example/fhir/Patient/magnesium-first", {"display": "no reference"}, "Patient/other/_history/1"],
)
def test_a_reference_that_does_not_resolve_to_the_patient_is_left_out(base_url: str, subject: Any) -> None:
    lab = foreign_magnesium()
    lab["subject"] = subject if isinstance(subject, dict) else {"reference": subject}
    cards = call(base_url, with_foreign_lab(request_fixture("patient-view", "magnesium_first"), lab)).json()["cards"]
    assert MG_LOW in rule_ids(cards) and all(NOTE in card["detail"] for card in cards)


def test_absolute_and_bundle_references_to_the_patient_are_kept() -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    labs = [foreign_magnesium(subject) for subject in ("urn:uuid:abc", "http://ehr.example/fhir/Patient/p1/_history/2")]
    labs[1]["id"] = "mg-2"
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"fullUrl": "urn:uuid:abc", "resource": patient}, *({"resource": lab} for lab in labs)],
    }
    record = build_record([bundle], patient=PatientInContext("p1", "http://ehr.example/fhir"))
    assert len(record.observations) == 2 and record.foreign_left_out == 0
    elsewhere = build_record([bundle], patient=PatientInContext("p1", "http://other.example/fhir"))
    assert len(elsewhere.observations) == 1 and elsewhere.foreign_left_out == 1


def serve_everyone(fhir: Loopback, body: dict[str, Any], labs: dict[str, Any], patient: dict[str, Any]) -> None:
    """Answer every prefetch query of ``body``'s patient as a server that ignores ``patient=`` would."""
    context = body["context"]
    for key, template in patient_prefetch(KNOWLEDGE).items():
        value = {"patient": patient, "labs": labs}.get(key, body["prefetch"][key])
        fhir.route(requote_uri(render_template(template, context)), Answer(value))  # as requests sends it


def everyones_labs(body: dict[str, Any]) -> dict[str, Any]:
    """The patient's labs and another patient's newer magnesium, as one searchset."""
    labs = copy.deepcopy(body["prefetch"]["labs"])
    labs["entry"].insert(0, {"resource": foreign_magnesium()})
    return labs


def test_a_fhir_server_ignoring_patient_puts_no_other_patient_on_a_card(base_url: str) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    with loopback_fhir() as fhir:
        serve_everyone(fhir, body, everyones_labs(body), body["prefetch"]["patient"])
        body = {**body, "fhirServer": fhir.base_url, "prefetch": {}}
        response = call(base_url, body)
        assert fhir.total == len(patient_prefetch(KNOWLEDGE))
    cards = response.json()["cards"]
    assert MG_LOW in rule_ids(cards) and all(NOTE in card["detail"] for card in cards)


def test_a_fetched_patient_who_is_someone_else_gets_a_412(base_url: str) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    with loopback_fhir() as fhir:
        serve_everyone(fhir, body, body["prefetch"]["labs"], {"resourceType": "Patient", "id": OTHER})
        prefetch = {k: v for k, v in body["prefetch"].items() if k != "patient"}
        response = call(base_url, {**body, "fhirServer": fhir.base_url, "prefetch": prefetch})
    assert response.status_code == 412 and response.json()["prefetch"] == ["patient"]


def test_a_draft_order_for_another_patient_is_left_out(base_url: str) -> None:
    body = request_fixture("order-sign", "new_lithium")
    own = rule_ids(call(base_url, body).json()["cards"])
    assert own  # the lithium order speaks for its own patient
    body["context"]["draftOrders"]["entry"][0]["resource"]["subject"] = {"reference": f"Patient/{OTHER}"}
    response = call(base_url, body)
    assert response.status_code == 200
    assert response.json()["cards"] == []  # no order of this patient: silent


def test_the_workup_fetch_stops_on_another_patient_and_leaves_out_foreign_labs() -> None:
    body = request_fixture("patient-view", "magnesium_first")
    from cds_hooks import FhirClientSettings, ServerAllowList, client_factory

    factory = client_factory(ServerAllowList(None), FhirClientSettings())
    with loopback_fhir() as fhir:
        serve_everyone(fhir, body, everyones_labs(body), body["prefetch"]["patient"])
        grant = Grant(fhir.base_url, "token", "patient/*.read", "magnesium-first")
        record = read_record(grant, KNOWLEDGE, factory)
        assert record.foreign_left_out == 1 and all(o.get("id") != "other-mg" for o in record.observations)
        fhir.routes.clear()
        serve_everyone(fhir, body, body["prefetch"]["labs"], {"resourceType": "Patient", "id": OTHER})
        with pytest.raises(WorkupStop) as stop:
            read_record(grant, KNOWLEDGE, factory)
    assert stop.value.reason == "wrong-patient"


def two_patients(tmp_path: Path) -> str:
    """A Bundle file holding two fixture patients' records."""
    entries = []
    for name in ("magnesium_first", "fasciculation_normal_labs"):
        bundle = json.loads((ROOT / "fixtures" / "patients" / f"{name}.json").read_text(encoding="utf-8"))
        entries.extend(bundle["entry"])
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8")
    return str(path)


def test_evaluate_refuses_a_bundle_of_two_patients_unless_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = two_patients(tmp_path)
    with pytest.raises(SystemExit, match="holds 2 patients; name the one to evaluate with --patient"):
        main(["evaluate", "--bundle", bundle, "--now", NOW.isoformat()])
    assert main(["evaluate", "--bundle", bundle, "--patient", "magnesium-first", "--now", NOW.isoformat()]) == 0
    cards = json.loads(capsys.readouterr().out)["cards"]
    assert MG_LOW in rule_ids(cards) and all(NOTE in card["detail"] for card in cards)
    with pytest.raises(SystemExit, match="holds no Patient with id 'nobody'"):
        main(["evaluate", "--bundle", bundle, "--patient", "nobody"])


def test_evaluate_from_a_fhir_server_ignoring_patient(capsys: pytest.CaptureFixture[str]) -> None:
    body = request_fixture("patient-view", "magnesium_first")
    with loopback_fhir() as fhir:
        serve_everyone(fhir, body, everyones_labs(body), body["prefetch"]["patient"])
        args = ["evaluate", "--fhir-server", fhir.base_url, "--patient", "magnesium-first", "--now", NOW.isoformat()]
        assert main(args) == 0
        cards = json.loads(capsys.readouterr().out)["cards"]
        assert MG_LOW in rule_ids(cards) and all(NOTE in card["detail"] for card in cards)
        fhir.routes.clear()
        serve_everyone(fhir, body, body["prefetch"]["labs"], {"resourceType": "Patient", "id": OTHER})
        assert main(args) == 3
    assert "wrong_patient" in capsys.readouterr().err
