"""Facts from raw FHIR: status rules, latest valid result, medication references, malformed resources."""

from __future__ import annotations

import logging

import pytest

from service.facts import UseStatus, build_facts
from service.facts.records import build_record
from service.knowledge import ConditionRole, Knowledge

from .conftest import NOW, load_record

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_entered_in_error_cancelled_and_older_preliminary_results_are_ignored(knowledge: Knowledge) -> None:
    facts = build_facts(load_record("entered_in_error"), now=NOW, knowledge=knowledge)
    magnesium = facts.latest("magnesium")
    assert magnesium is not None and magnesium.value == 2.0 and not magnesium.preliminary


def test_a_preliminary_result_newer_than_the_final_is_used_and_labelled(knowledge: Knowledge) -> None:
    facts = build_facts(load_record("preliminary_magnesium"), now=NOW, knowledge=knowledge)
    magnesium = facts.latest("magnesium")
    assert magnesium is not None and magnesium.value == 1.1 and magnesium.preliminary  # the cancelled 0.8 is out


def test_meq_magnesium_is_normalised(knowledge: Knowledge) -> None:
    facts = build_facts(load_record("magnesium_meq"), now=NOW, knowledge=knowledge)
    magnesium = facts.latest("magnesium")
    assert magnesium is not None and magnesium.unit == "meq/L"
    assert magnesium.canonical == pytest.approx(1.3 / 2 * 24.305 / 10)  # divalent: 1.3 meq/L = 0.65 mmol/L


def test_recent_respects_the_lookback(knowledge: Knowledge) -> None:
    facts = build_facts(load_record("stale_labs"), now=NOW, knowledge=knowledge)
    days = knowledge.analyte("magnesium").lookback_days
    assert facts.latest("magnesium") is not None
    assert facts.recent("magnesium", days) is None
    assert facts.recent("tsh", knowledge.analyte("tsh").lookback_days) is not None


def test_malformed_resources_are_skipped_with_a_warning(knowledge: Knowledge, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        facts = build_facts(load_record("malformed_resource"), now=NOW, knowledge=knowledge)
    magnesium = facts.latest("magnesium")
    assert magnesium is not None and magnesium.value == 2.0
    assert not facts.uses_of("lithium")
    messages = [r.getMessage() for r in caplog.records]
    assert any("Observation" in m and "lab.magnesium" in m for m in messages)
    assert any("MedicationRequest" in m and "drug.lithium" in m for m in messages)
    assert not any("malformed-resource" in m or "bad-mg" in m for m in messages)  # no ids, no patient data


@pytest.mark.parametrize(
    ("scenario", "group"), [("contained_medication", "lithium"), ("bundle_medication_reference", "beta2-agonist")]
)
def test_medication_references_resolve(knowledge: Knowledge, scenario: str, group: str) -> None:
    facts = build_facts(load_record(scenario), now=NOW, knowledge=knowledge)
    uses = facts.uses_of(group)
    assert uses and uses[0].status == UseStatus.ACTIVE and uses[0].confidence == "code"


def _request(medication: dict[str, object], **fields: object) -> dict[str, object]:
    return {
        "resourceType": "MedicationRequest",
        "id": "x",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        **medication,
        **fields,
    }


def test_reference_to_a_fetched_medication_by_relative_id(knowledge: Knowledge) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m7",
        "code": {"coding": [{"system": RX, "code": "9000", "display": "pyridostigmine"}]},
    }
    record = build_record([medication, _request({"medicationReference": {"reference": "Medication/m7"}})])
    assert build_facts(record, now=NOW, knowledge=knowledge).uses_of("cholinesterase-inhibitor")


def test_ingredient_codes_of_a_medication_count(knowledge: Knowledge) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "combo",
        "code": {"text": "Night-time cold relief"},
        "ingredient": [{"itemCodeableConcept": {"coding": [{"system": RX, "code": "3498"}]}}],
    }
    record = build_record([medication, _request({"medicationReference": {"reference": "Medication/combo"}})])
    assert build_facts(record, now=NOW, knowledge=knowledge).uses_of("ethanolamine-antihistamine")


@pytest.mark.parametrize(
    ("fields", "counted"),
    [
        ({"status": "draft"}, False),
        ({"status": "entered-in-error"}, False),
        ({"status": "cancelled"}, False),
        ({"intent": "proposal"}, False),
        ({"status": "on-hold"}, True),
        ({"status": "active"}, True),
    ],
)
def test_medication_request_status_rules(knowledge: Knowledge, fields: dict[str, str], counted: bool) -> None:
    concept = {"medicationCodeableConcept": {"coding": [{"system": RX, "code": "435"}]}}
    record = build_record([_request(concept, **fields)])
    uses = build_facts(record, now=NOW, knowledge=knowledge).uses_of("beta2-agonist")
    assert bool(uses and uses[0].status == UseStatus.ACTIVE) is counted


def test_name_synonym_is_matched_with_lower_confidence(knowledge: Knowledge) -> None:
    record = build_record([_request({"medicationCodeableConcept": {"text": "Salbutamol 100 microgram inhaler"}})])
    uses = build_facts(record, now=NOW, knowledge=knowledge).uses_of("beta2-agonist")
    assert uses and uses[0].confidence == "text" and uses[0].name == "Salbutamol"


def _condition(code: dict[str, object], clinical: str = "active", verification: str = "confirmed") -> dict[str, object]:
    return {
        "resourceType": "Condition",
        "code": code,
        "subject": {"reference": "Patient/p"},
        "clinicalStatus": {"coding": [{"code": clinical}]},
        "verificationStatus": {"coding": [{"code": verification}]},
    }


@pytest.mark.parametrize(
    ("clinical", "verification", "current"),
    [
        ("active", "confirmed", True),
        ("recurrence", "provisional", True),
        ("relapse", "confirmed", True),
        ("resolved", "confirmed", False),
        ("inactive", "confirmed", False),
        ("active", "refuted", False),
        ("active", "entered-in-error", False),
    ],
)
def test_condition_status_rules(knowledge: Knowledge, clinical: str, verification: str, current: bool) -> None:
    code = {"coding": [{"system": "http://snomed.info/sct", "code": "82470000"}]}
    record = build_record([_condition(code, clinical, verification)])
    facts = build_facts(record, now=NOW, knowledge=knowledge)
    assert bool(facts.conditions_with(ConditionRole.TRIGGER)) is current


@pytest.mark.parametrize(
    ("code", "role"),
    [
        ({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G35.A"}]}, ConditionRole.DISEASE),
        ({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G1221"}]}, ConditionRole.DISEASE),
        ({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "T60.0X4D"}]}, ConditionRole.EXPOSURE),
        ({"text": "Fasciculations of the tongue"}, ConditionRole.TRIGGER),
        ({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R29.2"}]}, None),
    ],
)
def test_condition_code_matching(knowledge: Knowledge, code: dict[str, object], role: ConditionRole | None) -> None:
    facts = build_facts(build_record([_condition(code)]), now=NOW, knowledge=knowledge)
    assert [c.role for c in facts.conditions] == ([role] if role else [])
