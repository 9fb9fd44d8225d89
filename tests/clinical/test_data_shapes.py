"""Issue 25 item 5: data shapes the screen reads - panel components, a number in valueString, a flag without a range,
the laboratory's corrected calcium, creatinine in umol/L, abatement and pregnancy codes - through ``evaluate`` and
over HTTP."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from service.facts.lab_shapes import quantity_in_text, with_components
from service.hooks import patient_prefetch
from service.knowledge import Knowledge
from tests.clinical.both_paths import Cards, both_paths, only_card, rule_id

from .test_scenarios import EXPECTED

SHAPE_SCENARIOS = [
    "blood_gas_ionised_calcium_low",
    "blood_gas_ionised_calcium_normal",
    "corrected_calcium_reported_low",
    "corrected_calcium_reported_normal",
    "magnesium_value_string_low",
    "magnesium_value_string_normal",
    "lithium_creatinine_umol",
    "abated_fasciculation",
    "abated_neuropathy_fasciculation",
    "pregnancy_z3a_low_tsh",
    "puerperium_low_tsh",
]


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", SHAPE_SCENARIOS)
def test_shape_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_ionised_calcium_read_from_a_blood_gas_component(client: FlaskClient) -> None:
    for cards in both_paths(client, "blood_gas_ionised_calcium_low"):
        card = only_card(cards, "lab.calcium.low")
        assert card["summary"].startswith("Calcium low (0.92 mmol/L ionised")
        assert "Ca missing" not in " ".join(c["summary"] for c in cards)


def test_reported_corrected_calcium_is_used_and_answers_the_work_up(client: FlaskClient) -> None:
    for cards in both_paths(client, "corrected_calcium_reported_low"):
        card = only_card(cards, "lab.calcium.low")
        assert card["summary"].startswith("Calcium low (1.95 mmol/L corrected")
        assert "29265-6" in card["detail"]
    for cards in both_paths(client, "corrected_calcium_reported_normal"):
        assert cards == []  # the low total (7.9, flagged L) is read through the laboratory's correction (9.2)


def test_value_string_with_unit_and_flag_only(client: FlaskClient) -> None:
    for cards in both_paths(client, "magnesium_value_string_low"):
        card = only_card(cards, "lab.magnesium.low")
        assert card["summary"].startswith("Magnesium low (1.1 mg/dL") and card["indicator"] == "critical"


def test_creatinine_in_umol_per_litre_is_reduced_renal_function(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_creatinine_umol"):
        card = only_card(cards, "drug.lithium")
        assert "Creatinine: **280 umol/L**" in card["detail"] and "Renal function is reduced" in card["detail"]


def test_abated_condition_without_status_is_not_active(client: FlaskClient) -> None:
    for cards in both_paths(client, "abated_fasciculation"):
        assert cards == []
    for cards in both_paths(client, "abated_neuropathy_fasciculation"):
        assert "B12" in only_card(cards, "workup.labs")["summary"]  # the neuropathy (in remission) still counts


def test_pregnancy_from_weeks_of_gestation_not_from_the_puerperium(client: FlaskClient) -> None:
    for cards in both_paths(client, "pregnancy_z3a_low_tsh"):
        assert "pregnancy" in only_card(cards, "lab.tsh.low")["summary"]
    for cards in both_paths(client, "puerperium_low_tsh"):
        assert "pregnancy" not in only_card(cards, "lab.tsh.low")["summary"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.1 mg/dL", (1.1, "1.1", "mg/dL")),
        ("<0.5 mmol/L", (0.5, "<0.5", "mmol/L")),
        ("≥ 2,0 mmol/L", (2.0, ">=2.0", "mmol/L")),
        ("2.0", (2.0, "2.0", None)),
        ("see comment", None),
        ("1.1-1.3 mg/dL", None),
        (1.1, None),
    ],
)
def test_quantity_in_text(text: object, expected: tuple[float, str, str | None] | None) -> None:
    stated = quantity_in_text(text)
    assert (None if stated is None else (stated.value, stated.text, stated.unit)) == expected


def test_components_inherit_time_and_status_and_a_single_object_is_read() -> None:
    panel = {
        "resourceType": "Observation",
        "id": "bg",
        "status": "final",
        "effectiveDateTime": "2026-11-19T08:00:00Z",
        "component": {"code": {"text": "iCa"}, "valueString": "0.9 mmol/L"},
    }
    parent, component = with_components([panel])
    assert parent is panel
    assert component == {
        "resourceType": "Observation",
        "id": "bg",
        "status": "final",
        "effectiveDateTime": "2026-11-19T08:00:00Z",
        "code": {"text": "iCa"},
        "valueString": "0.9 mmol/L",
    }


def test_prefetch_asks_for_the_new_codes_and_the_panels(knowledge: Knowledge) -> None:
    labs = patient_prefetch(knowledge)["labs"]
    for code in ("29265-6", "14682-9", "24336-0", "24339-4"):
        assert f"http://loinc.org|{code}" in labs
