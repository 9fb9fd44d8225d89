"""Issue 25 item 2: peripheral nerve hyperexcitability - Isaacs syndrome on record, twitching with cramps and no red
flag, thymoma with myasthenia on pyridostigmine - through ``evaluate`` and over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.hooks import SERVICE_IDS
from tests.clinical.both_paths import PATIENTS, REQUESTS, Cards, both_paths, cli_cards, only_card, rule_id

from .test_scenarios import EXPECTED

SCENARIOS = [
    "isaacs_on_problem_list",
    "twitching_with_cramps",
    "twitching_cramps_and_weakness",
    "thymoma_myasthenia_pyridostigmine",
]
RULE = "condition.nerve-hyperexcitability"


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", SCENARIOS)
def test_hyperexcitability_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_isaacs_on_record_asks_for_caspr2_lgi1_emg_and_chest_imaging(client: FlaskClient) -> None:
    for cards in both_paths(client, "isaacs_on_problem_list"):
        card = only_card(cards, RULE)
        assert card["summary"].endswith("on record: CASPR2 and LGI1 antibodies, EMG for after-discharges")
        for words in ("CASPR2 and LGI1", "after-discharges", "thymoma or lung cancer", 'not a "VGKC-complex"'):
            assert words in card["detail"]


def test_twitching_with_cramps_raises_the_question_only_without_red_flags(client: FlaskClient) -> None:
    for cards in both_paths(client, "twitching_with_cramps"):
        assert "after the reversible causes" in only_card(cards, RULE)["summary"]
    for cards in both_paths(client, "twitching_cramps_and_weakness"):
        assert RULE not in [rule_id(c) for c in cards]


def test_thymoma_on_pyridostigmine_names_neuromyotonia_and_cholinergic_weakness(client: FlaskClient) -> None:
    for cards in both_paths(client, "thymoma_myasthenia_pyridostigmine"):
        detail = only_card(cards, "drug.cholinesterase-inhibitor")["detail"]
        assert "acquired neuromyotonia (CASPR2 antibodies)" in detail and "cholinergic (too much drug)" in detail


def _ordered_loinc(card: dict[str, object]) -> list[str]:
    """The LOINC codes of the one-click ServiceRequests a card offers, one per single-lab suggestion."""
    suggestions = card.get("suggestions", [])
    assert isinstance(suggestions, list)
    singles = [s for s in suggestions if len(s["actions"]) == 1]
    return [s["actions"][0]["resource"]["code"]["coding"][0]["code"] for s in singles]


@pytest.mark.parametrize("name", ["isaacs_on_problem_list", "twitching_with_cramps"])
def test_hyperexcitability_card_orders_caspr2_and_lgi1_by_loinc(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        card = only_card(cards, RULE)
        assert _ordered_loinc(card) == ["82979-6", "82978-8"]  # CASPR2 IgG, LGI1 IgG screens (ARUP, serum)
        resource = card["suggestions"][0]["actions"][0]["resource"]
        assert resource["resourceType"] == "ServiceRequest" and resource["intent"] == "proposal"


def test_caspr2_titre_on_record_is_shown_with_the_chest_note_and_not_reordered(client: FlaskClient) -> None:
    for cards in both_paths(client, "twitching_cramps_caspr2_titre"):
        card = only_card(cards, RULE)
        assert "CASPR2 IgG antibody (serum): **40" in card["detail"]
        assert "image the chest for thymoma or lung cancer (arup-caspr2-lgi1)" in card["detail"]
        assert _ordered_loinc(card) == ["82978-8"]  # LGI1 only: CASPR2 has a result


def _coded_positive(value: object) -> object:
    """``value`` with every CASPR2 Observation's number replaced by a coded "Positive" (a qualitative report)."""
    if isinstance(value, list):
        return [_coded_positive(item) for item in value]
    if not isinstance(value, dict):
        return value
    code = value.get("code")
    codes = {c.get("code") for c in code.get("coding", [])} if isinstance(code, dict) else set()
    if value.get("resourceType") == "Observation" and codes & {"82979-6", "95600-3"}:
        rest = {key: item for key, item in value.items() if key != "valueQuantity"}
        return {**rest, "valueCodeableConcept": {"coding": [{"display": "Positive"}], "text": "Positive"}}
    return {key: _coded_positive(item) for key, item in value.items()}


def test_a_coded_positive_caspr2_is_shown_as_reported_and_not_reordered(client: FlaskClient, tmp_path: Path) -> None:
    """A qualitative antibody result is never silently ignored: the card shows it and does not offer it again."""
    name = "twitching_cramps_caspr2_titre"
    bundle = _coded_positive(json.loads((PATIENTS / f"{name}.json").read_text(encoding="utf-8")))
    request = _coded_positive(json.loads((REQUESTS / "patient-view" / f"{name}.json").read_text(encoding="utf-8")))
    assert "Positive" in json.dumps(bundle) and "Positive" in json.dumps(request)  # the fixture holds the result
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    answered = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=request)
    assert answered.status_code == 200
    for cards in (cli_cards("--bundle", str(path)), answered.get_json()["cards"]):
        card = only_card(cards, RULE)
        assert "CASPR2 IgG antibody (serum): **Positive**" in card["detail"]
        assert "image the chest for thymoma or lung cancer" in card["detail"]
        assert _ordered_loinc(card) == ["82978-8"]  # LGI1 only: CASPR2 has a result
