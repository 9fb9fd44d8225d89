"""Issue 25 item 6: lithium in context - AKI and dehydration make the level due, reduced renal function is said in
the summary, lithium is named on the thyroid and calcium cards, and a level in range does not exonerate it -
through ``evaluate`` and over HTTP."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.clinical.both_paths import Cards, both_paths, only_card, order_codes, rule_id

from .test_scenarios import EXPECTED

LITHIUM_SCENARIOS = ["lithium_aki_after_level", "lithium_dehydration", "lithium_level_in_range", "lithium_high_tsh"]
NOT_EXONERATED = "A level in the usual range does not exonerate lithium"
CREATININE, LITHIUM = "2160-0", "14334-7"


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", LITHIUM_SCENARIOS)
def test_lithium_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_acute_kidney_injury_after_the_level_makes_it_due(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_aki_after_level"):
        card = only_card(cards, "drug.lithium")
        assert card["summary"].startswith("On lithium: level due: Acute kidney failure")
        assert card["summary"].endswith("; lithium clearance reduced")
        assert order_codes(card)[:2] == [LITHIUM, CREATININE]  # renal function asked again after the AKI
        assert NOT_EXONERATED not in card["detail"]


def test_dehydration_after_the_level_makes_it_due(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_dehydration"):
        card = only_card(cards, "drug.lithium")
        assert "level due: Dehydration since the last level" in card["summary"]


def test_reduced_renal_function_is_in_the_summary(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_creatinine_umol"):
        assert only_card(cards, "drug.lithium")["summary"].endswith("; lithium clearance reduced")
    for cards in both_paths(client, "lithium_level_in_range"):
        assert "clearance" not in only_card(cards, "drug.lithium")["summary"]  # normal renal function: not said


def test_a_level_in_range_does_not_exonerate_lithium(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_level_in_range"):
        assert NOT_EXONERATED in only_card(cards, "drug.lithium")["detail"]
    for cards in both_paths(client, "lithium_toxic"):
        assert NOT_EXONERATED not in cards[0]["detail"]  # a high level is its own finding


def test_high_tsh_on_lithium_names_lithium_associated_hypothyroidism(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_high_tsh"):
        card = only_card(cards, "lab.tsh.high")
        assert card["summary"].endswith("; on lithium")
        assert "lithium-associated hypothyroidism is the likely cause" in card["detail"]
    for cards in both_paths(client, "thyroid_high_tsh_low_ft4"):
        card = only_card(cards, "lab.tsh.high")
        assert "On lithium" not in card["detail"] and "lithium" not in card["summary"]


def test_high_calcium_on_lithium_says_so_in_the_summary(client: FlaskClient) -> None:
    for cards in both_paths(client, "hypercalcaemia_lithium"):
        assert only_card(cards, "lab.calcium.high")["summary"].endswith("; on lithium")
    for cards in both_paths(client, "hypercalcaemia_pth_high"):
        assert "lithium" not in only_card(cards, "lab.calcium.high")["summary"]
