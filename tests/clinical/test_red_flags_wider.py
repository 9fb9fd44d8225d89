"""Issue 25 item 1: red flags wider and sharper - upper and lower motor neuron signs together say urgent neurology,
foot drop and orthopnoea are red flags, signs charted on examination count - through ``evaluate`` and over HTTP."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.clinical.both_paths import Cards, both_paths, only_card, rule_id

from .test_scenarios import EXPECTED

RED_FLAG_SCENARIOS = [
    "umn_lmn_signs",
    "foot_drop_only",
    "orthopnoea_fasciculation",
    "exam_clonus_tongue_wasting",
    "myoclonus_not_clonus",
    "babinski_snomed_only",
    "ankle_clonus_snomed_exam",
    "babinski_snomed_absent_exam",
]
URGENT = "(upper and lower motor neuron signs: urgent neurology)"


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", RED_FLAG_SCENARIOS)
def test_red_flag_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_upper_and_lower_motor_neuron_signs_together_say_urgent_neurology(client: FlaskClient) -> None:
    for cards in both_paths(client, "umn_lmn_signs"):
        card = only_card(cards, "red-flags")
        assert card["summary"] == (
            f"Red flags with twitching {URGENT}: extensor plantar response, spasticity, foot drop"
        )
        assert "Refer urgently" in card["detail"]
    for cards in both_paths(client, "exam_clonus_tongue_wasting"):
        assert URGENT in only_card(cards, "red-flags")["summary"]


def test_one_system_alone_is_a_red_flag_without_the_urgent_wording(client: FlaskClient) -> None:
    for cards in both_paths(client, "foot_drop_only"):
        card = only_card(cards, "red-flags")
        assert card["summary"] == "Red flags with twitching: foot drop" and "Refer urgently" not in card["detail"]
    for cards in both_paths(client, "red_flags"):  # weakness and dysphagia: lower motor neuron and bulbar
        assert URGENT not in only_card(cards, "red-flags")["summary"]


def test_orthopnoea_asks_for_breathing_to_be_assessed(client: FlaskClient) -> None:
    for cards in both_paths(client, "orthopnoea_fasciculation"):
        card = only_card(cards, "red-flags")
        assert card["summary"].endswith(": orthopnoea") and "supine FVC" in card["detail"]


def test_myoclonus_is_not_clonus(client: FlaskClient) -> None:
    for cards in both_paths(client, "myoclonus_not_clonus"):
        assert cards == []


@pytest.mark.parametrize(
    ("name", "flag"),
    [("babinski_snomed_only", "extensor plantar response"), ("ankle_clonus_snomed_exam", "clonus")],
)
def test_snomed_coded_umn_sign_is_a_red_flag_without_english_text(client: FlaskClient, name: str, flag: str) -> None:
    for cards in both_paths(client, name):
        assert only_card(cards, "red-flags")["summary"].endswith(f": {flag}")
