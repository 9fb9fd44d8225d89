"""Issue 15 (clinical depth): exam findings, timing, pregnancy and organophosphate toxicity.

Each fixture patient through ``evaluate --bundle`` and over HTTP (its request built from the prefetch templates, the
new ``examObservations`` key included), and the fact rules on hand-made Observations and Conditions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.facts import build_facts
from service.facts.records import build_record
from service.knowledge import ConditionRole, Knowledge
from service.screen import screen_patient

from .conftest import NOW
from .test_safety_review import _both, _only, client

__all__ = ["client"]  # the module's app fixture, shared with the issue 11 tests

SCT = "http://snomed.info/sct"
EXAM = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "exam"}]}
FASCICULATION = {"coding": [{"system": SCT, "code": "82470000"}], "text": "Fasciculation"}

# scenario -> (rule id, indicator, words in the summary, words in the detail, words nowhere in the card)
CASES = [
    ("exam_fasciculation_low_magnesium", "lab.magnesium.low", "warning", "1.4 mg/dL", "Magnesium", "Red flags"),
    ("exam_signs_in_value", "red-flags", "warning", "muscle weakness", "charted as an exam finding", "atrophy"),
    ("levothyroxine_dose_change", "workup.labs", "info", "TSH before steady state", "changed on", "missing"),
    ("albuterol_started_before_twitching", "drug.beta2-agonist", "warning", "8 days before", "stronger lead", "weaker"),
    ("albuterol_for_years", "drug.beta2-agonist", "warning", "can cause twitching", "weaker lead", "stronger"),
    ("pregnancy_low_tsh", "lab.tsh.low", "info", "trimester-specific", "not by itself hyperthyroidism", "excess"),
    ("pregnancy_low_calcium", "lab.calcium.low", "warning", "confirm with ionised", "unreliable", "(corrected)"),
    (
        "organophosphate",
        "exposure.organophosphate.nicotinic",
        "critical",
        "urgent toxicology",
        "poison centre",
        "routine",
    ),
]


@pytest.mark.parametrize(("name", "rule_id", "indicator", "in_summary", "in_detail", "absent"), CASES)
def test_issue15_finding_through_cli_and_http(
    client: FlaskClient, name: str, rule_id: str, indicator: str, in_summary: str, in_detail: str, absent: str
) -> None:
    for cards in _both(client, name):
        card = _only(cards, rule_id)
        assert card["indicator"] == indicator
        assert in_summary in card["summary"] and in_detail in card["detail"]
        assert absent not in card["summary"] + card["detail"].split("**Why")[0]


@pytest.mark.parametrize("name", ["exam_fasciculation_absent"])
def test_absent_exam_findings_stay_silent(client: FlaskClient, name: str) -> None:
    for cards in _both(client, name):
        assert cards == []


def test_pregnancy_calcium_orders_ionised_calcium_only(client: FlaskClient) -> None:
    for cards in _both(client, "pregnancy_low_calcium"):
        card = _only(cards, "lab.calcium.low")
        codes = [s["actions"][0]["resource"]["code"]["coding"][0]["code"] for s in card["suggestions"]]
        assert codes == ["1995-0"]


def _exam(code: dict[str, Any], days: float = 3, **fields: Any) -> dict[str, Any]:
    effective = (NOW - dt.timedelta(days=days)).isoformat()
    observation = {"resourceType": "Observation", "status": "final", "category": [EXAM], "code": code}
    return {**observation, "subject": {"reference": "Patient/p"}, "effectiveDateTime": effective, **fields}


def _signs(knowledge: Knowledge, *resources: dict[str, Any]) -> set[str]:
    facts = build_facts(build_record(resources), now=NOW, knowledge=knowledge)
    return {item.set_id for item in facts.conditions}


ABSENT = {"coding": [{"system": SCT, "code": "2667000", "display": "Absent"}]}
PRESENT = {"coding": [{"system": SCT, "code": "52101004", "display": "Present"}]}
NEG = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "NEG"}]}]


@pytest.mark.parametrize(
    ("fields", "present"),
    [
        ({}, True),  # a finding charted without a value is present
        ({"valueCodeableConcept": PRESENT}, True),
        ({"valueBoolean": True}, True),
        ({"valueBoolean": False}, False),
        ({"valueCodeableConcept": ABSENT}, False),
        ({"valueCodeableConcept": {"text": "Absent"}}, False),
        ({"valueString": "none"}, False),
        ({"interpretation": NEG}, False),
        ({"dataAbsentReason": {"text": "not examined"}}, False),
        ({"status": "preliminary"}, True),
        ({"status": "amended"}, True),
        ({"status": "entered-in-error"}, False),
        ({"status": "cancelled"}, False),
        ({"status": "registered"}, False),
    ],
)
def test_exam_fasciculation_value_and_status_rules(knowledge: Knowledge, fields: dict[str, Any], present: bool) -> None:
    assert ("fasciculation" in _signs(knowledge, _exam(FASCICULATION, **fields))) is present


def test_a_sign_named_in_the_value_of_a_generic_row_counts(knowledge: Knowledge) -> None:
    weakness = {"coding": [{"system": SCT, "code": "26544005"}], "text": "Muscle weakness"}
    row = _exam({"text": "Neurological examination"}, valueCodeableConcept=weakness)
    assert _signs(knowledge, row) == {"weakness"}
    assert _signs(knowledge, {**row, "interpretation": NEG}) == set()


def test_the_newest_exam_decides_and_old_findings_expire(knowledge: Knowledge) -> None:
    old_present, new_absent = _exam(FASCICULATION, days=30), _exam(FASCICULATION, days=2, valueBoolean=False)
    assert _signs(knowledge, old_present, new_absent) == set()
    assert _signs(knowledge, _exam(FASCICULATION, days=30, valueBoolean=False), _exam(FASCICULATION, days=2)) == {
        "fasciculation"
    }
    assert _signs(knowledge, _exam(FASCICULATION, days=400)) == set()  # beyond the 365-day look-back


def test_exam_finding_sets_the_screen_mode_and_the_onset(knowledge: Knowledge) -> None:
    facts = build_facts(build_record([_exam(FASCICULATION, days=12)]), now=NOW, knowledge=knowledge)
    (item,) = facts.conditions_with(ConditionRole.TRIGGER)
    assert item.observed and facts.onset() == NOW - dt.timedelta(days=12)


PREGNANCY_STATUS = {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]}


@pytest.mark.parametrize(
    ("answer", "pregnant"),
    [
        ({"coding": [{"system": SCT, "code": "77386006"}]}, True),
        ({"coding": [{"system": "http://loinc.org", "code": "LA15173-0"}]}, True),
        ({"coding": [{"system": SCT, "code": "60001007"}]}, False),
        ({"coding": [{"system": "http://loinc.org", "code": "LA26683-5"}]}, False),
    ],
)
def test_pregnancy_status_observation(knowledge: Knowledge, answer: dict[str, Any], pregnant: bool) -> None:
    status = _exam(PREGNANCY_STATUS, days=10, valueCodeableConcept=answer)
    assert build_facts(build_record([status]), now=NOW, knowledge=knowledge).pregnant() is pregnant
    old = _exam(PREGNANCY_STATUS, days=200, valueCodeableConcept=answer)
    assert not build_facts(build_record([old]), now=NOW, knowledge=knowledge).pregnant()


def test_not_pregnant_status_supersedes_an_older_pregnant_one(knowledge: Knowledge) -> None:
    yes = _exam(PREGNANCY_STATUS, days=30, valueCodeableConcept={"coding": [{"system": SCT, "code": "77386006"}]})
    no = _exam(PREGNANCY_STATUS, days=2, valueCodeableConcept={"coding": [{"system": SCT, "code": "60001007"}]})
    assert not build_facts(build_record([yes, no]), now=NOW, knowledge=knowledge).pregnant()


def test_encounter_diagnoses_count_like_problem_list_entries(knowledge: Knowledge) -> None:
    category = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}
        ]
    }
    diagnosis = {
        "resourceType": "Condition",
        "category": [category],
        "code": FASCICULATION,
        "subject": {"reference": "Patient/p"},
    }
    assert _signs(knowledge, diagnosis) == {"fasciculation"}  # no clinicalStatus, as encounter diagnoses often are
    resolved = {**diagnosis, "clinicalStatus": {"coding": [{"code": "resolved"}]}}
    assert _signs(knowledge, resolved) == set()


def test_lab_quantities_are_not_read_as_signs(knowledge: Knowledge) -> None:
    quantity = _exam(FASCICULATION, valueQuantity={"value": 1, "unit": "1"})
    assert _signs(knowledge, quantity) == set()


def _albuterol(days: float, status: str = "active") -> dict[str, Any]:
    concept = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "435"}],
        "text": "Albuterol",
    }
    authored = (NOW - dt.timedelta(days=days)).isoformat()
    request = {"resourceType": "MedicationRequest", "status": status, "intent": "order", "authoredOn": authored}
    return {**request, "medicationCodeableConcept": concept, "subject": {"reference": "Patient/p"}}


def test_a_renewal_is_not_a_new_start(knowledge: Knowledge) -> None:
    """Albuterol since 700 days, renewed 12 days ago: the course started 700 days ago, a weaker lead."""
    fasciculation = _exam(FASCICULATION, days=5)
    record = build_record([fasciculation, _albuterol(700, "completed"), _albuterol(12)])
    result = screen_patient(record, now=NOW, hook_instance="issue-15", knowledge=knowledge)
    (card,) = [c for c in result.cards if "Albuterol" in c.summary]
    assert "before the twitching" not in card.summary and "weaker lead" in (card.detail or "")
    fresh = screen_patient(
        build_record([fasciculation, _albuterol(12)]), now=NOW, hook_instance="i", knowledge=knowledge
    )
    assert "started 7 days before the twitching" in fresh.cards[0].summary
