"""Without documented fasciculations, only culprits with more than tertiary evidence speak (medications.yaml)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from service.facts.records import build_record
from service.knowledge import Knowledge
from service.screen import screen_patient
from tests.synthea_data import read_bundle, synthea_path

from .conftest import HOOK_INSTANCE, NOW, SCENARIOS

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def with_active_drug(scenario: str, rxcui: str, name: str) -> Any:
    """A scenario's record plus one active MedicationRequest for ``rxcui``."""
    bundle = json.loads((SCENARIOS / f"{scenario}.json").read_text(encoding="utf-8"))
    patient_id = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    request = {
        "resourceType": "MedicationRequest",
        "id": f"added-{rxcui}",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui, "display": name}], "text": name},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": "2026-01-10",
    }
    bundle["entry"].append({"resource": request})
    return build_record([bundle])


def rule_ids(record: Any, knowledge: Knowledge) -> tuple[str, ...]:
    """Rule ids of the cards the screen gives."""
    return screen_patient(record, now=NOW, hook_instance=HOOK_INSTANCE, knowledge=knowledge).rule_ids


@pytest.mark.parametrize(
    ("rxcui", "name"), [("435", "albuterol"), ("8896", "pseudoephedrine"), ("3498", "diphenhydramine")]
)
def test_weakly_evidenced_culprit_is_silent_without_fasciculations(knowledge: Knowledge, rxcui: str, name: str) -> None:
    group = next(g for g in knowledge.drug_groups if rxcui in g.ingredients)
    assert group.speaks_without_fasciculation is False
    assert rule_ids(with_active_drug("neuropathy_normal_labs", rxcui, name), knowledge) == ()
    assert f"drug.{group.id}" in rule_ids(with_active_drug("fasciculation_normal_labs", rxcui, name), knowledge)


def test_strongly_evidenced_culprit_speaks_without_fasciculations(knowledge: Knowledge) -> None:
    record = with_active_drug("neuropathy_normal_labs", "9000", "pyridostigmine")
    assert rule_ids(record, knowledge) == ("drug.cholinesterase-inhibitor",)


def test_the_setting_is_knowledge_not_code(knowledge: Knowledge) -> None:
    groups = tuple(g.model_copy(update={"speaks_without_fasciculation": True}) for g in knowledge.drug_groups)
    loud = replace(knowledge, drug_groups=groups)
    assert rule_ids(with_active_drug("neuropathy_normal_labs", "435", "albuterol"), loud) == ("drug.beta2-agonist",)


def test_synthea_neuropathy_patients_on_inhalers_are_silent(knowledge: Knowledge) -> None:
    for stem in ("Josue_Sipes", "Vanda_Franecki", "Renato_Dare"):
        assert rule_ids(build_record([read_bundle(synthea_path(stem))]), knowledge) == ()
