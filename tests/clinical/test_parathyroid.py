"""Issue 25 item 3: high calcium read with PTH (lithium named), and the hypoparathyroid pattern of a low calcium -
through ``evaluate`` and over HTTP."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.clinical.both_paths import Cards, both_paths, only_card, order_codes, rule_id

from .test_scenarios import EXPECTED

PARATHYROID_SCENARIOS = [
    "hypercalcaemia_pth_high",
    "hypercalcaemia_lithium",
    "hypercalcaemia_pth_suppressed",
    "hypercalcaemia_no_pth",
    "hypercalcaemia_crisis",
    "pth_high_calcium_normal",
    "hypoparathyroid_after_thyroidectomy",
    "calcium_low_pth_high",
]
PTH = "2731-8"


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", PARATHYROID_SCENARIOS)
def test_parathyroid_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_high_calcium_with_high_pth_is_the_pth_dependent_pattern(client: FlaskClient) -> None:
    for cards in both_paths(client, "hypercalcaemia_pth_high"):
        card = only_card(cards, "lab.calcium.high")
        assert card["summary"].endswith("PTH high (145 pg/mL): PTH-dependent pattern")
        assert "ALS-like" in card["detail"] and "On lithium" not in card["detail"]
        assert PTH not in order_codes(card)


def test_high_calcium_on_lithium_names_lithium(client: FlaskClient) -> None:
    for cards in both_paths(client, "hypercalcaemia_lithium"):
        detail = only_card(cards, "lab.calcium.high")["detail"]
        assert "lithium-associated hyperparathyroidism" in detail
        assert "a lithium level in range does not exclude it" in detail


def test_suppressed_pth_points_away_from_the_parathyroid(client: FlaskClient) -> None:
    for cards in both_paths(client, "hypercalcaemia_pth_suppressed"):
        card = only_card(cards, "lab.calcium.high")
        assert card["summary"].endswith("PTH-independent pattern") and "malignancy" in card["detail"]


def test_high_calcium_without_pth_offers_pth(client: FlaskClient) -> None:
    for cards in both_paths(client, "hypercalcaemia_no_pth"):
        assert order_codes(only_card(cards, "lab.calcium.high")) == [PTH]


def test_hypercalcaemic_crisis_is_critical(client: FlaskClient) -> None:
    for cards in both_paths(client, "hypercalcaemia_crisis"):
        assert only_card(cards, "lab.calcium.high")["indicator"] == "critical"


def test_low_calcium_with_low_pth_after_neck_surgery(client: FlaskClient) -> None:
    for cards in both_paths(client, "hypoparathyroid_after_thyroidectomy"):
        card = only_card(cards, "lab.calcium.low")
        assert card["summary"].endswith("PTH low (9 pg/mL): hypoparathyroid pattern")
        assert "Postprocedural hypothyroidism" in card["detail"]
    for cards in both_paths(client, "calcium_low_pth_high"):
        card = only_card(cards, "lab.calcium.low")
        assert card["summary"].endswith("secondary hyperparathyroidism pattern")
        assert "hypoparathyroid pattern" not in card["summary"]
