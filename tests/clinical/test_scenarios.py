"""Every scenario through screen_patient: the right cards, in order, valid against the CDS Hooks spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cds_hooks.response import check_response
from service.cards import CARD_EXTENSION
from service.knowledge import Knowledge
from service.rules.conditions import ScreenMode
from service.screen import ScreenResult

from .conftest import scenario_names

Screen = Callable[..., ScreenResult]

# scenario -> (mode, [(rule id, indicator), ...] in display order)
EXPECTED: dict[str, tuple[ScreenMode, list[tuple[str, str]]]] = {
    "fasciculation_normal_labs": (ScreenMode.FULL, []),
    "fasciculation_missing_labs": (ScreenMode.FULL, [("workup.labs", "info")]),
    "stale_labs": (ScreenMode.FULL, [("workup.labs", "info")]),
    "albumin_corrected_normal": (ScreenMode.FULL, []),
    "calcium_low_corrected": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "calcium_si_units": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "ionised_calcium_critical": (ScreenMode.FULL, [("lab.calcium.low", "critical")]),
    "magnesium_meq": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    "magnesium_first": (ScreenMode.FULL, [("lab.magnesium.low", "critical"), ("lab.potassium.low", "warning")]),
    "entered_in_error": (ScreenMode.FULL, []),
    "stopped_drugs": (ScreenMode.FULL, []),
    "contained_medication": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "bundle_medication_reference": (ScreenMode.FULL, [("drug.beta2-agonist", "warning")]),
    "malformed_resource": (ScreenMode.FULL, []),
    "silent_no_trigger": (ScreenMode.OFF, []),
    "refuted_fasciculation": (ScreenMode.OFF, []),
    "neuropathy_normal_labs": (ScreenMode.GATED, []),
    "neuropathy_low_magnesium": (ScreenMode.GATED, [("lab.magnesium.low", "warning")]),
    "red_flags": (ScreenMode.FULL, [("red-flags", "warning")]),
    "organophosphate": (ScreenMode.FULL, [("exposure.organophosphate.nicotinic", "critical")]),
    "lithium_toxic": (ScreenMode.FULL, [("lab.lithium.toxic", "critical")]),
    "lithium_no_level": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "thyroid_low_tsh_no_ft4": (ScreenMode.FULL, [("lab.tsh.low", "warning")]),
    "thyroid_high_tsh_low_ft4": (ScreenMode.FULL, [("lab.tsh.high", "warning")]),
    "potassium_beta2": (ScreenMode.FULL, [("lab.potassium.low", "warning"), ("drug.beta2-agonist", "warning")]),
    "antihistamine_recently_stopped": (ScreenMode.FULL, [("drug.ethanolamine-antihistamine", "warning")]),
    "als_succinylcholine": (ScreenMode.GATED, [("drug.succinylcholine.denervation", "critical")]),
    "ms_text_fasciculation": (ScreenMode.FULL, [("workup.labs", "info")]),
    "synthea_frami_fasciculation": (
        ScreenMode.FULL,
        [("lab.magnesium.low", "warning"), ("lab.potassium.low", "warning"), ("workup.labs", "info")],
    ),
    # issue 11 (clinical safety review): each would have failed on the main before it
    "als_normal_labs": (ScreenMode.GATED, []),
    "succinylcholine_no_denervation": (ScreenMode.FULL, [("drug.succinylcholine", "warning")]),
    "ms_weakness_succinylcholine": (ScreenMode.GATED, [("drug.succinylcholine.denervation", "critical")]),
    "immobilised_succinylcholine": (ScreenMode.OFF, [("drug.succinylcholine.denervation", "critical")]),
    "thyroid_low_tsh_low_ft4": (ScreenMode.FULL, [("lab.tsh.low", "warning")]),
    "thyroid_high_tsh_high_ft4": (ScreenMode.FULL, [("lab.tsh.high", "warning")]),
    "red_flags_low_magnesium": (ScreenMode.FULL, [("lab.magnesium.low", "warning"), ("red-flags", "warning")]),
    "lithium_high_twitching": (ScreenMode.FULL, [("lab.lithium.toxic", "critical")]),
    "lithium_high_no_twitching": (ScreenMode.GATED, [("lab.lithium.high", "warning")]),
    "potassium_severe": (ScreenMode.FULL, [("lab.potassium.low", "critical")]),
    "magnesium_mg_per_l": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    "unit_not_understood": (ScreenMode.FULL, [("workup.labs", "info")]),
    "preliminary_magnesium": (ScreenMode.FULL, [("lab.magnesium.low", "critical")]),
    "ms_remission_low_magnesium": (ScreenMode.GATED, [("lab.magnesium.low", "warning")]),
    "antihistamine_stopped_no_date": (ScreenMode.FULL, [("drug.ethanolamine-antihistamine", "warning")]),
    "calcium_uncorrected": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "ionised_calcium_ise": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "organophosphate_rbc_per_volume": (ScreenMode.FULL, [("exposure.organophosphate.nicotinic", "critical")]),
    "magnesium_gentamicin_vonoprazan": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    # issue 15 (clinical depth): exam findings, timing, pregnancy, organophosphate toxicity
    "exam_fasciculation_low_magnesium": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    "exam_signs_in_value": (ScreenMode.FULL, [("red-flags", "warning")]),
    "exam_fasciculation_absent": (ScreenMode.OFF, []),
    "levothyroxine_dose_change": (ScreenMode.FULL, [("workup.labs", "info")]),
    "albuterol_started_before_twitching": (ScreenMode.FULL, [("drug.beta2-agonist", "warning")]),
    "albuterol_for_years": (ScreenMode.FULL, [("drug.beta2-agonist", "warning")]),
    "pregnancy_low_tsh": (ScreenMode.FULL, [("lab.tsh.low", "info")]),
    "pregnancy_low_calcium": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "organophosphate_old_exposure": (ScreenMode.FULL, [("exposure.organophosphate", "warning")]),
    # issue 15 (clinical depth, i15b): one patient per bullet
    "lithium_thiazide_started": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "lithium_dose_change_unsteady": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "calcium_low_follow_up": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "neuropathy_metformin_b12": (ScreenMode.FULL, [("workup.labs", "info")]),
    "metformin_no_neuropathy": (ScreenMode.FULL, []),
    "benzodiazepine_stopped": (ScreenMode.FULL, [("drug.benzodiazepine-withdrawal", "warning")]),
    "benzodiazepine_active": (ScreenMode.FULL, []),
    "theophylline_low_potassium": (ScreenMode.FULL, [("lab.potassium.low", "warning"), ("drug.xanthine", "warning")]),
    "doxylamine_stopped": (ScreenMode.FULL, [("drug.ethanolamine-antihistamine", "warning")]),
    "amiodarone_high_tsh": (ScreenMode.FULL, [("lab.tsh.high", "warning")]),
    "pentamidine_low_magnesium": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    "ms_dalfampridine": (ScreenMode.FULL, [("drug.dalfampridine", "warning")]),
    "ms_dalfampridine_no_fasciculation": (ScreenMode.GATED, []),
    "mmn_fasciculation_weakness": (ScreenMode.FULL, [("red-flags", "warning")]),
    "mmn_no_fasciculation": (ScreenMode.GATED, []),
    "cidp_low_magnesium": (ScreenMode.GATED, [("lab.magnesium.low", "warning")]),
    # drug products and platinum agents (fixtures/drug_product_scenarios.py)
    "advair_fasciculation": (ScreenMode.FULL, [("drug.beta2-agonist", "warning")]),
    "combivent_atc_only": (ScreenMode.FULL, [("drug.beta2-agonist", "warning")]),
    "sudafed_brand_only": (ScreenMode.FULL, [("drug.stimulant", "warning")]),
    "sudafed_pe_brand_only": (ScreenMode.FULL, []),
    "namzaric_fasciculation": (ScreenMode.FULL, [("drug.cholinesterase-inhibitor", "warning")]),
    "lithium_zestoretic_started": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "eye_drop_cyclosporine_low_magnesium": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    "oxaliplatin_recent_infusion": (ScreenMode.FULL, [("drug.oxaliplatin", "warning")]),
    "oxaliplatin_weeks_ago": (ScreenMode.FULL, []),
    "oxaliplatin_neuropathy_no_fasciculation": (ScreenMode.GATED, []),
    "cisplatin_low_magnesium": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    "cisplatin_normal_magnesium": (ScreenMode.FULL, []),
    # issue 25 item 5: data shapes (fixtures/data_shape_scenarios.py)
    "blood_gas_ionised_calcium_low": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "blood_gas_ionised_calcium_normal": (ScreenMode.FULL, []),
    "corrected_calcium_reported_low": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "corrected_calcium_reported_normal": (ScreenMode.FULL, []),
    "magnesium_value_string_low": (ScreenMode.FULL, [("lab.magnesium.low", "critical")]),
    "magnesium_value_string_normal": (ScreenMode.FULL, []),
    "lithium_creatinine_umol": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "abated_fasciculation": (ScreenMode.OFF, []),
    "abated_neuropathy_fasciculation": (ScreenMode.FULL, [("workup.labs", "info")]),
    "pregnancy_z3a_low_tsh": (ScreenMode.FULL, [("lab.tsh.low", "info")]),
    "puerperium_low_tsh": (ScreenMode.FULL, [("lab.tsh.low", "warning")]),
    "pregnancy_z3a_long_ago_low_tsh": (ScreenMode.FULL, [("lab.tsh.low", "warning")]),
    # issue 25 item 3: high calcium and the parathyroid (fixtures/parathyroid_scenarios.py)
    "hypercalcaemia_pth_high": (ScreenMode.FULL, [("lab.calcium.high", "warning")]),
    "hypercalcaemia_lithium": (ScreenMode.FULL, [("lab.calcium.high", "warning"), ("drug.lithium", "warning")]),
    "hypercalcaemia_pth_suppressed": (ScreenMode.FULL, [("lab.calcium.high", "warning")]),
    "hypercalcaemia_no_pth": (ScreenMode.FULL, [("lab.calcium.high", "warning")]),
    "hypercalcaemia_crisis": (ScreenMode.FULL, [("lab.calcium.high", "critical")]),
    "pth_high_calcium_normal": (ScreenMode.FULL, []),
    "hypoparathyroid_after_thyroidectomy": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    "calcium_low_pth_high": (ScreenMode.FULL, [("lab.calcium.low", "warning")]),
    # issue 25 item 6: lithium in context (fixtures/lithium_context_scenarios.py)
    "lithium_aki_after_level": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "lithium_dehydration": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "lithium_level_in_range": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    "lithium_high_tsh": (ScreenMode.FULL, [("lab.tsh.high", "warning"), ("drug.lithium", "warning")]),
    # issue 25 item 1: red flags wider and sharper (fixtures/red_flag_scenarios.py)
    "umn_lmn_signs": (ScreenMode.FULL, [("red-flags", "warning")]),
    "foot_drop_only": (ScreenMode.FULL, [("red-flags", "warning")]),
    "orthopnoea_fasciculation": (ScreenMode.FULL, [("red-flags", "warning")]),
    "exam_clonus_tongue_wasting": (ScreenMode.FULL, [("red-flags", "warning")]),
    "myoclonus_not_clonus": (ScreenMode.FULL, []),
    "babinski_snomed_only": (ScreenMode.FULL, [("red-flags", "warning")]),
    "ankle_clonus_snomed_exam": (ScreenMode.FULL, [("red-flags", "warning")]),
    "babinski_snomed_absent_exam": (ScreenMode.FULL, []),
    # issue 25 item 7: timing against onset (fixtures/onset_timing_scenarios.py)
    "labs_before_onset": (ScreenMode.FULL, [("workup.labs", "info")]),
    "labs_just_before_onset": (ScreenMode.FULL, []),
    "low_magnesium_before_onset": (ScreenMode.FULL, [("lab.magnesium.low", "warning")]),
    "lithium_level_before_onset": (ScreenMode.FULL, [("drug.lithium", "warning")]),
    # issue 25 item 8: neuropathy codes and provokers of twitching (fixtures/neuropathy_context_scenarios.py)
    "cmt_low_magnesium": (ScreenMode.GATED, [("lab.magnesium.low", "warning")]),
    "cmt_normal_labs": (ScreenMode.GATED, []),
    "critical_illness_neuropathy_low_magnesium": (ScreenMode.GATED, [("lab.magnesium.low", "warning")]),
    "gbs_succinylcholine": (ScreenMode.GATED, [("drug.succinylcholine.denervation", "critical")]),
    "provoking_caffeine_no_labs": (ScreenMode.FULL, [("workup.labs", "info")]),
    "provoking_with_red_flag": (ScreenMode.FULL, [("red-flags", "warning"), ("workup.labs", "info")]),
    "provoking_viral_long_ago": (ScreenMode.FULL, [("workup.labs", "info")]),
    # issue 25 item 2: peripheral nerve hyperexcitability (fixtures/hyperexcitability_scenarios.py)
    "isaacs_on_problem_list": (ScreenMode.GATED, [("condition.nerve-hyperexcitability", "info")]),
    "twitching_cramps_caspr2_titre": (ScreenMode.FULL, [("condition.nerve-hyperexcitability", "info")]),
    "twitching_with_cramps": (ScreenMode.FULL, [("condition.nerve-hyperexcitability", "info")]),
    "twitching_cramps_and_weakness": (ScreenMode.FULL, [("red-flags", "warning")]),
    "thymoma_myasthenia_pyridostigmine": (ScreenMode.FULL, [("drug.cholinesterase-inhibitor", "warning")]),
}


def test_every_scenario_has_an_expectation() -> None:
    assert set(EXPECTED) == set(scenario_names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_cards(screen: Screen, name: str) -> None:
    mode, expected = EXPECTED[name]
    result = screen(name)
    assert result.mode == mode
    assert [(c["extension"][CARD_EXTENSION]["ruleId"], c["indicator"]) for c in _json(result)] == expected
    assert result.rule_ids == tuple(rule for rule, _ in expected)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_card_passes_the_spec_check(screen: Screen, name: str, knowledge: Knowledge) -> None:
    result = screen(name)
    check_response({"cards": _json(result)})
    for card in _json(result):
        assert card["extension"][CARD_EXTENSION]["knowledgeVersion"] == knowledge.version
        assert f"Knowledge base {knowledge.version}" in card["detail"]
        assert "benign" not in (card["summary"] + card["detail"]).lower()


def _json(result: ScreenResult) -> list[dict[str, Any]]:
    """The cards as they go on the wire."""
    return [card.to_json() for card in result.cards]


def _all_uuids(cards: list[dict[str, Any]]) -> list[str]:
    return [c["uuid"] for c in cards] + [s["uuid"] for c in cards for s in c.get("suggestions", [])]


def test_uuids_are_stable_per_hook_instance(screen: Screen) -> None:
    first, again = screen("fasciculation_missing_labs"), screen("fasciculation_missing_labs")
    other = screen("fasciculation_missing_labs", hook_instance="another-instance")
    assert _all_uuids(_json(first)) == _all_uuids(_json(again))
    assert not set(_all_uuids(_json(first))) & set(_all_uuids(_json(other)))
    assert len(set(_all_uuids(_json(first)))) == len(_all_uuids(_json(first)))


def test_work_up_orders_are_loinc_service_requests(screen: Screen, knowledge: Knowledge) -> None:
    card = _json(screen("fasciculation_missing_labs"))[0]
    assert card["selectionBehavior"] == "any"
    singles, everything = card["suggestions"][:-1], card["suggestions"][-1]
    assert len(everything["actions"]) == len(singles) > 1
    codes = set()
    for suggestion in singles:
        (action,) = suggestion["actions"]
        request = action["resource"]
        assert (request["resourceType"], request["status"], request["intent"]) == (
            "ServiceRequest",
            "draft",
            "proposal",
        )
        assert request["subject"] == {"reference": "Patient/fasciculation-missing-labs"}
        (coding,) = request["code"]["coding"]
        assert coding["system"] == "http://loinc.org"
        codes.add(coding["code"])
    core = {a.order.loinc for a in knowledge.analytes.values() if a.workup.value in ("core", "bundled")}
    assert codes == core


def test_organophosphate_orders_plasma_and_rbc_cholinesterase(screen: Screen) -> None:
    card = _json(screen("organophosphate"))[0]
    codes = {s["actions"][0]["resource"]["code"]["coding"][0]["code"] for s in card["suggestions"][:-1]}
    assert codes == {"2098-2", "49230-6"}


def test_magnesium_first_is_said(screen: Screen) -> None:
    magnesium, potassium = _json(screen("magnesium_first"))
    assert magnesium["summary"].endswith("correct Mg first")
    assert "correct magnesium first" in potassium["detail"]
    assert "Omeprazole" in magnesium["detail"] and "Chronic diarrhea" in magnesium["detail"]


def test_corrected_calcium_shows_its_sources(screen: Screen) -> None:
    card = _json(screen("calcium_low_corrected"))[0]
    assert card["summary"].startswith("Calcium low (7.3 mg/dL corrected")
    assert "7.6 mg/dL" in card["detail"] and "4.4 g/dL" in card["detail"]
    assert "Furosemide" in card["detail"] and "Chronic kidney disease" in card["detail"]


def test_framing_prefixes_every_summary(screen: Screen) -> None:
    result = screen("magnesium_first", framing="Before this EMG")
    assert all(card["summary"].startswith("Before this EMG: ") for card in _json(result))
    check_response({"cards": _json(result)})


def test_red_flag_card_names_no_diagnosis(screen: Screen) -> None:
    card = _json(screen("red_flags"))[0]
    text = (card["summary"] + card["detail"]).lower()
    assert "emg" in text and "neurology" in text
    for diagnosis in ("als", "amyotrophic", "motor neuron disease", "multiple sclerosis"):
        assert f" {diagnosis} " not in f" {card['summary'].lower()} "
