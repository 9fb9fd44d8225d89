"""One work-up computation (issue 22): the checklist shows exactly the labs the work-up card calls missing or stale.

Over every fixture patient and every Synthea fixture patient (as recorded, and with documented fasciculations so
the whole screen runs): the labs the checklist shows as not done are the work-up card's orders plus the labs the
screen's other cards offer, each with the card's own words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.facts import build_facts
from service.facts.ownership import PatientInContext
from service.facts.records import build_record
from service.knowledge import WORKUP_RULE, load_knowledge
from service.rules.conditions import ScreenMode
from service.screen import offered_elsewhere, screen_patient
from service.workup.checklist import LabState, checklist
from tests.conftest import NOW, ROOT
from tests.synthea_data import bundle_name, read_bundle, synthea_paths

KNOWLEDGE = load_knowledge()
FIXTURES = sorted((ROOT / "fixtures" / "patients").glob("*.json"))
SYNTHEA = synthea_paths()
FASCICULATION = {
    "resourceType": "Condition",
    "id": "added-fasciculation",
    "clinicalStatus": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
    },  # fmt: skip
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "82470000"}], "text": "Fasciculation"},
    "recordedDate": "2026-11-01",
}


def patient_id(bundle: dict[str, Any]) -> str:
    return next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def assert_one_workup(bundle: dict[str, Any]) -> None:
    """The checklist's open labs are the work-up card's orders plus those the other cards offer, in its words."""
    record = build_record([bundle], patient=PatientInContext(patient_id(bundle)))
    result = screen_patient(record, now=NOW, hook_instance="one-workup", knowledge=KNOWLEDGE)
    offered = offered_elsewhere(result.findings)
    items = checklist(build_facts(record, now=NOW, knowledge=KNOWLEDGE), KNOWLEDGE, offered)
    open_labs = [item.analyte_id for item in items if item.state != LabState.DONE]
    card = next((f for f in result.findings if f.rule_id == WORKUP_RULE), None)
    if result.mode != ScreenMode.FULL:
        assert card is None
        return
    assert [lab for lab in open_labs if lab not in offered] == list(card.orders if card else ())
    lines = card.facts if card else ()
    for item in items:
        if item.state != LabState.DONE and item.analyte_id not in offered:
            display = KNOWLEDGE.analyte(item.analyte_id).display
            assert any(line.startswith(f"{display}: {item.detail}") for line in lines), (item, lines)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_fixture_patient(path: Path) -> None:
    assert_one_workup(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", SYNTHEA, ids=[bundle_name(p)[:20] for p in SYNTHEA])
@pytest.mark.parametrize("twitching", [False, True])
def test_every_synthea_patient(path: Path, twitching: bool) -> None:
    bundle = read_bundle(path)
    if twitching:
        condition = {**FASCICULATION, "subject": {"reference": f"Patient/{patient_id(bundle)}"}}
        bundle = {**bundle, "entry": [*bundle["entry"], {"resource": condition}]}
    assert_one_workup(bundle)


def test_every_gap_of_the_card_is_a_checklist_state() -> None:
    """A gap the card can offer a lab for (``Gap``) is a state the checklist can show, never a crash."""
    from service.rules.workup import Gap
    from service.workup.checklist import LabState

    assert {gap.value for gap in Gap} <= {state.value for state in LabState}
