"""A value that contradicts the lab's own flag (issue 23 row 14): both are shown, the contradiction is named, and
the value against the range the lab gave decides (Mg 5.0 mg/dL, range 1.7-2.4, flagged L is not "low")."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.cards import CARD_EXTENSION
from service.cli import main
from service.facts import build_facts
from service.hooks import SERVICE_IDS
from service.knowledge import WORKUP_RULE, load_knowledge
from service.prefetch_keys import PatientInContext, prefetched_record
from service.workup.checklist import LabState, checklist
from tests.conftest import NOW, REQUESTS, AppFactory

KNOWLEDGE = load_knowledge()
BASE: dict[str, Any] = json.loads((REQUESTS / "patient-view" / "magnesium_first.json").read_text("utf-8"))
HL7_FLAGS = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def magnesium(value: float, flag: str) -> dict[str, Any]:
    """magnesium_first with its magnesium replaced: ``value`` mg/dL, the lab's range 1.7-2.4, flagged ``flag``."""
    body = copy.deepcopy(BASE)
    for entry in body["prefetch"]["labs"]["entry"]:
        resource = entry["resource"]
        if resource["code"]["coding"][0]["code"] == "19123-9":
            resource["valueQuantity"]["value"] = value
            bound = {"unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}
            resource["referenceRange"] = [{"low": {**bound, "value": 1.7}, "high": {**bound, "value": 2.4}}]
            resource["interpretation"] = [{"coding": [{"system": HL7_FLAGS, "code": flag}]}]
    return body


@pytest.fixture
def client(app_factory: AppFactory) -> FlaskClient:
    return app_factory().test_client()


def cards_of(client: FlaskClient, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)
    assert response.status_code == 200
    return {card["extension"][CARD_EXTENSION]["ruleId"]: card for card in response.get_json()["cards"]}


WORDS = "flagged low by the laboratory, but 5.0 mg/dL is above its range 1.7–2.4"


def test_a_high_value_flagged_low_is_not_called_low_and_the_contradiction_is_named(client: FlaskClient) -> None:
    cards = cards_of(client, magnesium(5.0, "L"))
    assert "lab.magnesium.low" not in cards  # no "correct magnesium" for a value above the lab's range
    workup = cards[WORKUP_RULE]
    assert WORDS in workup["detail"] and "review with the laboratory" in workup["detail"]
    assert "Mg flag contradicts the value" in workup["summary"]


def test_a_low_value_flagged_normal_is_low_with_the_contradiction_named(client: FlaskClient) -> None:
    cards = cards_of(client, magnesium(1.0, "N"))
    card = cards["lab.magnesium.low"]
    assert "Magnesium low (1.0 mg/dL" in card["summary"]
    assert "flagged normal by the laboratory, but 1.0 mg/dL is below its range 1.7–2.4" in card["detail"]


def test_a_flag_on_a_value_inside_the_range_still_stands(client: FlaskClient) -> None:
    card = cards_of(client, magnesium(1.8, "L"))["lab.magnesium.low"]
    assert "disagree" not in card["detail"]


def test_the_checklist_and_evaluate_say_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = magnesium(5.0, "L")
    record = prefetched_record(body["prefetch"], PatientInContext("magnesium-first"))
    (item,) = [
        i
        for i in checklist(build_facts(record, now=NOW, knowledge=KNOWLEDGE), KNOWLEDGE)
        if i.analyte_id == "magnesium"
    ]
    assert item.state == LabState.CONTRADICTED and WORDS in item.detail
    entries = [e for v in body["prefetch"].values() if v for e in (v.get("entry") or [{"resource": v}])]
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), "utf-8")
    assert main(["evaluate", "--bundle", str(path), "--now", NOW.isoformat()]) == 0
    out = capsys.readouterr().out
    assert WORDS in out and "lab.magnesium.low" not in out
