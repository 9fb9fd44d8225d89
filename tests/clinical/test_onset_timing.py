"""Issue 25 item 7: a normal result drawn before the twitching began does not answer it - shown, said and offered
again; an abnormal one still counts; a lithium level from before it is due - through ``evaluate`` and over HTTP."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from service.knowledge import Knowledge
from tests.clinical.both_paths import Cards, both_paths, only_card, order_codes, rule_id

from .test_scenarios import EXPECTED

ONSET_SCENARIOS = [
    "labs_before_onset",
    "labs_just_before_onset",
    "low_magnesium_before_onset",
    "lithium_level_before_onset",
]


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", ONSET_SCENARIOS)
def test_onset_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_normal_labs_from_before_the_twitching_are_offered_again(client: FlaskClient, knowledge: Knowledge) -> None:
    core = {a.order.loinc for a in knowledge.analytes.values() if a.workup.value in ("core", "bundled")}
    for cards in both_paths(client, "labs_before_onset"):
        card = only_card(cards, "workup.labs")
        assert card["summary"].endswith("drawn before the twitching")
        assert (
            "Magnesium: 2.1 mg/dL, 25 days ago: drawn 15 days before the twitching was first recorded" in card["detail"]
        )
        assert set(order_codes(card)[:-1]) == core


def test_a_grace_before_the_first_record_is_allowed(client: FlaskClient, knowledge: Knowledge) -> None:
    assert knowledge.onset_timing is not None and knowledge.onset_timing.grace_days == 7
    for cards in both_paths(client, "labs_just_before_onset"):
        assert cards == []


def test_an_abnormal_result_from_before_the_twitching_still_counts(client: FlaskClient) -> None:
    for cards in both_paths(client, "low_magnesium_before_onset"):
        assert [rule_id(c) for c in cards] == ["lab.magnesium.low"]


def test_a_lithium_level_from_before_the_twitching_is_due(client: FlaskClient) -> None:
    for cards in both_paths(client, "lithium_level_before_onset"):
        card = only_card(cards, "drug.lithium")
        assert (
            card["summary"] == "On lithium: level due: last level predates the first record of twitching (2026-11-10)"
        )
