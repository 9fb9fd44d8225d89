"""The same fixture patient through ``evaluate --bundle`` and over HTTP: the helpers the clinical suites share."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

from flask.testing import FlaskClient

from service.cards import CARD_EXTENSION
from service.cli import main
from service.hooks import SERVICE_IDS
from tests.conftest import NOW, ROOT

PATIENTS = ROOT / "fixtures" / "patients"
REQUESTS = ROOT / "fixtures" / "requests"
Cards = list[dict[str, Any]]


def cli_cards(*args: str, hook_instance: str = "clinical") -> Cards:
    """The cards ``fasciculation-cds evaluate`` prints for ``args`` at the fixtures' NOW."""
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["evaluate", *args, "--now", NOW.isoformat(), "--hook-instance", hook_instance]) == 0
    cards: Cards = json.loads(printed.getvalue())["cards"]
    return cards


def http_cards(client: FlaskClient, name: str, hook: str = "patient-view") -> Cards:
    """The cards the hook's service answers for the request fixture ``name``."""
    request = json.loads((REQUESTS / hook / f"{name}.json").read_text(encoding="utf-8"))
    response = client.post(f"/cds-services/{SERVICE_IDS[hook]}", json=request)
    assert response.status_code == 200
    cards: Cards = response.get_json()["cards"]
    return cards


def both_paths(client: FlaskClient, name: str) -> list[Cards]:
    """The patient-view cards of scenario ``name``, from the CLI and over HTTP."""
    return [cli_cards("--bundle", str(PATIENTS / f"{name}.json")), http_cards(client, name)]


def rule_id(card: dict[str, Any]) -> str:
    """The rule behind a card (its extension)."""
    return str(card["extension"][CARD_EXTENSION]["ruleId"])


def only_card(cards: Cards, rule: str) -> dict[str, Any]:
    """The one card of ``rule``."""
    matching = [card for card in cards if rule_id(card) == rule]
    assert len(matching) == 1, [card["summary"] for card in cards]
    return matching[0]


def order_codes(card: dict[str, Any]) -> list[str]:
    """The LOINC codes of every order action on the card, suggestion by suggestion."""
    return [a["resource"]["code"]["coding"][0]["code"] for s in card.get("suggestions", []) for a in s["actions"]]
