"""Issue 25 item 8: wider neuropathy codes (CMT, GBS, critical illness polyneuropathy) and provokers of twitching as
a low-key note on the work-up card, never beside a red flag - through ``evaluate`` and over HTTP."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.clinical.both_paths import Cards, both_paths, only_card, rule_id

from .test_scenarios import EXPECTED

NEUROPATHY_SCENARIOS = [
    "cmt_low_magnesium",
    "cmt_normal_labs",
    "critical_illness_neuropathy_low_magnesium",
    "gbs_succinylcholine",
    "provoking_caffeine_no_labs",
    "provoking_with_red_flag",
    "provoking_viral_long_ago",
]
PROVOKERS = "These commonly provoke twitching"


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", NEUROPATHY_SCENARIOS)
def test_neuropathy_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_guillain_barre_is_denervation_without_coded_weakness(client: FlaskClient) -> None:
    for cards in both_paths(client, "gbs_succinylcholine"):
        card = only_card(cards, "drug.succinylcholine.denervation")
        assert "Guillain-Barre syndrome" in card["detail"]


def test_provokers_are_named_on_the_work_up_card(client: FlaskClient) -> None:
    for cards in both_paths(client, "provoking_caffeine_no_labs"):
        detail = only_card(cards, "workup.labs")["detail"]
        assert PROVOKERS in detail and "Excessive caffeine intake" in detail and "Stress" in detail
        assert "the work-up still stands" in detail


def test_provokers_never_stand_beside_a_red_flag(client: FlaskClient) -> None:
    for cards in both_paths(client, "provoking_with_red_flag"):
        assert all(PROVOKERS not in card["detail"] for card in cards)


def test_an_old_provoker_is_not_named(client: FlaskClient) -> None:
    for cards in both_paths(client, "provoking_viral_long_ago"):
        assert PROVOKERS not in only_card(cards, "workup.labs")["detail"]
