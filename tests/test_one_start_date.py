"""One drug, one start date on a card (issue 22 item 7): a renewal or a second record of the same drug shows the
date its course began, the same date the onset-lead note gives; each record keeps its own status."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.cli import main
from service.hooks import SERVICE_IDS
from tests.conftest import NOW, REQUESTS, AppFactory

BASE: dict[str, Any] = json.loads((REQUESTS / "patient-view" / "albuterol_for_years.json").read_text("utf-8"))
DATES = re.compile(r"(?:started|[Ss]ince) (\d{4}-\d{2}-\d{2})")


def with_renewal_and_statement() -> dict[str, Any]:
    """albuterol_for_years plus a renewal last month and a statement of the same inhaler (no end)."""
    body = copy.deepcopy(BASE)
    first = body["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    renewal = {**copy.deepcopy(first), "id": "albuterol-renewal", "authoredOn": "2026-10-20T09:00:00Z"}
    body["prefetch"]["medicationRequests"]["entry"].append({"resource": renewal})
    statement = {
        "resourceType": "MedicationStatement",
        "id": "albuterol-statement",
        "status": "active",
        "medicationCodeableConcept": copy.deepcopy(first["medicationCodeableConcept"]),
        "subject": copy.deepcopy(first["subject"]),
        "effectivePeriod": {"start": "2023-03-01"},
    }
    body["prefetch"]["medicationStatements"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": statement}]}  # fmt: skip
    return body


def albuterol_dates(cards: list[dict[str, Any]]) -> set[str]:
    (card,) = [c for c in cards if c["summary"].startswith("Albuterol")]
    return set(DATES.findall(card["detail"]))


@pytest.fixture
def client(app_factory: AppFactory) -> FlaskClient:
    return app_factory().test_client()


def test_the_card_gives_the_drug_one_start_date(client: FlaskClient) -> None:
    response = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=with_renewal_and_statement())
    cards = response.get_json()["cards"]
    assert albuterol_dates(cards) == {"2020-11-11"}
    (card,) = [c for c in cards if c["summary"].startswith("Albuterol")]
    assert "MedicationStatement active" in card["detail"]  # each record still shown with its own status


def test_evaluate_gives_the_same_one_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = with_renewal_and_statement()
    entries = [e for v in body["prefetch"].values() if v for e in (v.get("entry") or [{"resource": v}])]
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), "utf-8")
    assert main(["evaluate", "--bundle", str(path), "--now", NOW.isoformat()]) == 0
    assert albuterol_dates(json.loads(capsys.readouterr().out)["cards"]) == {"2020-11-11"}
