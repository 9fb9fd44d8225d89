"""Drugs and conditions in context (fixtures/context_scenarios.py): lithium in context, follow-up labs, new drugs,
MMN/CIDP - via evaluate and HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.facts import MedicationUse, PatientFacts, UseStatus, build_facts
from service.facts.records import build_record
from service.facts.units import to_canonical
from service.knowledge import Knowledge, KnowledgeError, load_knowledge_from
from service.rules.medications import qualifying_uses
from service.screen import ScreenResult, screen_patient
from tests.clinical.both_paths import Cards, both_paths, only_card, rule_id
from tests.synthea_data import read_bundle, synthea_paths

from .conftest import HOOK_INSTANCE, NOW
from .test_scenarios import EXPECTED

CONTEXT_SCENARIOS = [
    "lithium_thiazide_started",
    "lithium_dose_change_unsteady",
    "calcium_low_follow_up",
    "neuropathy_metformin_b12",
    "metformin_no_neuropathy",
    "benzodiazepine_stopped",
    "benzodiazepine_active",
    "theophylline_low_potassium",
    "doxylamine_stopped",
    "amiodarone_high_tsh",
    "pentamidine_low_magnesium",
    "ms_dalfampridine",
    "ms_dalfampridine_no_fasciculation",
    "mmn_fasciculation_weakness",
    "mmn_no_fasciculation",
    "cidp_low_magnesium",
]
Screen = Callable[..., ScreenResult]


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


def _orders(card: dict[str, Any]) -> list[str]:
    singles = card.get("suggestions", [])[: -1 if len(card.get("suggestions", [])) > 1 else None]
    return [s["actions"][0]["resource"]["code"]["coding"][0]["code"] for s in singles]


@pytest.mark.parametrize("name", CONTEXT_SCENARIOS)
def test_context_patient_through_cli_and_http(client: FlaskClient, name: str) -> None:
    expected = EXPECTED[name][1]
    for cards in both_paths(client, name):
        assert _rules(cards) == expected


def test_level_predating_a_thiazide_start_is_due(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_thiazide_started"):
        card = only_card(cards, "drug.lithium")
        assert card["summary"] == "On lithium: level due: last level predates Hydrochlorothiazide (2026-11-12)"
        assert "raise the level" in card["detail"] and "Creatinine: **88 umol/L**" in card["detail"]
        assert _orders(card) == ["14334-7"]  # renal function is recent: only the level


def test_level_before_steady_state_names_dose_change_renal_and_monitoring(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_dose_change_unsteady"):
        card = only_card(cards, "drug.lithium")
        assert "3 days after the lithium dose change (2026-11-14): not yet steady state" in card["summary"]
        assert "Renal function is reduced" in card["detail"] and "Ibuprofen" in card["detail"]
        assert "no result in 365 days: TSH" in card["detail"]
        assert _orders(card) == ["14334-7", "3016-3"]  # TSH once, on the lithium card (no work-up card repeats it)


def test_confirmed_low_calcium_offers_only_the_missing_follow_up(client: FlaskClient) -> None:
    for cards in both_paths(client, "calcium_low_follow_up"):
        card = only_card(cards, "lab.calcium.low")
        assert _orders(card) == ["2731-8", "62292-8"]  # phosphate is recent: not offered
        assert "PTH" in card["detail"]


def test_uncorrected_calcium_is_confirmed_before_its_cause_is_sought(screen: Screen) -> None:
    (card,) = [c.to_json() for c in screen("calcium_uncorrected").cards]
    assert _orders(card) == ["1995-0", "1751-7"]


def test_b12_only_with_a_neuropathy(screen: Screen) -> None:
    (card,) = [c.to_json() for c in screen("neuropathy_metformin_b12").cards]
    assert _orders(card) == ["2132-9"]
    assert "Vitamin B12: not measured (on metformin, peripheral neuropathy)" in card["detail"]
    assert screen("metformin_no_neuropathy").cards == []


def test_missing_work_up_includes_ck(screen: Screen) -> None:
    (card,) = [c.to_json() for c in screen("fasciculation_missing_labs").cards]
    assert "2157-6" in _orders(card)


def test_mmn_note_is_on_the_red_flag_card_and_names_no_diagnosis(screen: Screen) -> None:
    (card,) = [c.to_json() for c in screen("mmn_fasciculation_weakness").cards]
    assert "treatable (intravenous immunoglobulin is first line)" in card["detail"]
    assert "can mimic motor neuron disease" in card["detail"]
    assert "multifocal" not in card["summary"].lower()


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("pth", 10.0, "pmol/L", 94.3),  # x 9.43 (MIR)
        ("vitamin_d", 50.0, "nmol/L", 20.03),  # x 0.4006
        ("phosphate", 1.0, "mmol/L", 3.10),  # x 3.097
        ("b12", 148.0, "pmol/L", 200.6),  # x 1.3554
        ("creatinine", 88.4, "umol/L", 1.0),  # / 88.4
        ("egfr", 48.0, "mL/min/1.73m2", 48.0),  # a common non-UCUM spelling of the same unit
        ("ck", 120.0, "[IU]/L", 120.0),
    ],
)
def test_new_analytes_convert_through_ucum(
    knowledge: Knowledge, analyte: str, value: float, unit: str, expected: float
) -> None:
    converted = to_canonical(value, unit, knowledge.analyte(analyte), knowledge.unit_aliases)
    assert converted == pytest.approx(expected, rel=2e-3)


def test_ck_code_in_another_system_is_not_ck(knowledge: Knowledge) -> None:
    def observation(system: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": f"o-{len(system)}",
            "status": "final",
            "code": {"coding": [{"system": system, "code": "2157-6"}]},
            "subject": {"reference": "Patient/p"},
            "effectiveDateTime": "2026-11-18T10:00:00Z",
            "valueQuantity": {"value": 150, "unit": "U/L", "system": "http://unitsofmeasure.org", "code": "U/L"},
        }

    race = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": observation("urn:oid:2.16.840.1.113883.6.238")}],
    }
    assert "ck" not in build_facts(build_record([race]), now=NOW, knowledge=knowledge).labs
    loinc = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": observation("http://loinc.org")}]}
    assert build_facts(build_record([loinc]), now=NOW, knowledge=knowledge).labs["ck"].value == 150


def test_new_loinc_codes_join_the_labs_prefetch(knowledge: Knowledge) -> None:
    for code in ("2731-8", "62292-8", "1989-3", "14635-7", "2157-6", "2132-9", "2160-0", "98979-8", "62238-1"):
        assert code in knowledge.lab_loinc_codes


def _use(group: str, status: UseStatus, start_days: float, end_days: float | None = None) -> MedicationUse:
    end = NOW - dt.timedelta(days=end_days) if end_days is not None else None
    return MedicationUse(group, group, status, NOW - dt.timedelta(days=start_days), end, "MedicationRequest", "code")


def _facts(*uses: MedicationUse) -> PatientFacts:
    return PatientFacts(now=NOW, patient_id="p", labs={}, medications=uses, conditions=())


def test_benzodiazepine_counts_only_after_a_recent_stop(knowledge: Knowledge) -> None:
    group = knowledge.drug_group("benzodiazepine-withdrawal")
    assert not qualifying_uses(_facts(_use(group.id, UseStatus.ACTIVE, 300)), group)
    assert qualifying_uses(_facts(_use(group.id, UseStatus.STOPPED, 300, 20)), group)
    assert not qualifying_uses(_facts(_use(group.id, UseStatus.STOPPED, 300, 40)), group)


def test_undated_stop_of_a_use_begun_years_ago_is_not_recent(knowledge: Knowledge) -> None:
    group = knowledge.drug_group("ethanolamine-antihistamine")
    assert qualifying_uses(_facts(_use(group.id, UseStatus.STOPPED, 200)), group)
    assert not qualifying_uses(_facts(_use(group.id, UseStatus.STOPPED, 3000)), group)  # Synthea cold remedy, 2017


def test_synthea_patients_without_fasciculations_stay_silent(knowledge: Knowledge) -> None:
    for path in synthea_paths():
        result = screen_patient(
            build_record([read_bundle(path)]), now=NOW, hook_instance=HOOK_INSTANCE, knowledge=knowledge
        )
        assert result.cards == [], path.stem


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("medications.yaml", "interacting_groups: [thiazide-diuretic,", "interacting_groups: [thiazide,", "thiazide"),
        (
            "labs.yaml",
            "follow_up: [pth, vitamin_d, phosphate]   #",
            "follow_up: [pth, vitamin_e, phosphate]   #",
            "vitamin_e",
        ),
        (
            "labs.yaml",
            "needed_only_with: [peripheral-neuropathy, cidp]",
            "needed_only_with: [neuropathy]",
            "neuropathy",
        ),
        ("medications.yaml", "    atc: [C01BD01]\n", "", "needs ingredients, atc or atc_prefixes"),
    ],
)
def test_bad_context_knowledge_is_refused(knowledge_copy: Path, name: str, old: str, new: str, message: str) -> None:
    path = knowledge_copy / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge_from(knowledge_copy)
