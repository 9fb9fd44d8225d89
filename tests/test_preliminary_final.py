"""A newer preliminary result never hides an older final one that is worse (issue 22 item 2).

Through the real app over HTTP, ``evaluate`` and the work-up checklist: the card names both results and keeps the
final one's severity until a newer final result is reported; every value shown that is preliminary says so.
"""

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
from service.knowledge import load_knowledge
from service.prefetch_keys import PatientInContext, prefetched_record
from service.workup.checklist import checklist
from service.workup.page import build_page, render_page
from tests.conftest import NOW, REQUESTS, AppFactory

KNOWLEDGE = load_knowledge()
MG = "19123-9"
BASE: dict[str, Any] = json.loads((REQUESTS / "patient-view" / "preliminary_magnesium.json").read_text("utf-8"))


def with_magnesium(*results: tuple[str, float, str]) -> dict[str, Any]:
    """The preliminary_magnesium request with its magnesium results replaced by (status, mg/dL, when)."""
    body = copy.deepcopy(BASE)
    entries = body["prefetch"]["labs"]["entry"]
    template = next(e for e in entries if e["resource"]["code"]["coding"][0]["code"] == MG)
    others = [e for e in entries if e["resource"]["code"]["coding"][0]["code"] != MG]
    magnesium = []
    for number, (status, value, when) in enumerate(results):
        entry = copy.deepcopy(template)
        entry["resource"].update(id=f"mg-{number}", status=status, effectiveDateTime=when)
        entry["resource"]["valueQuantity"]["value"] = value
        magnesium.append(entry)
    body["prefetch"]["labs"]["entry"] = [*magnesium, *others]
    return body


CRITICAL_THEN_PRELIMINARY = with_magnesium(
    ("final", 1.1, "2026-11-17T08:00:00Z"), ("preliminary", 1.3, "2026-11-20T08:00:00Z")
)


@pytest.fixture
def client(app_factory: AppFactory) -> FlaskClient:
    return app_factory().test_client()


def magnesium_card(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any] | None:
    response = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    found = [c for c in cards if c["extension"][CARD_EXTENSION]["ruleId"] == "lab.magnesium.low"]
    return found[0] if found else None


def test_an_older_critical_final_result_keeps_the_card_critical_and_both_are_named(client: FlaskClient) -> None:
    card = magnesium_card(client, CRITICAL_THEN_PRELIMINARY)
    assert card is not None and card["indicator"] == "critical"
    assert "final 1.1 mg/dL, critical, 3 days ago; preliminary 1.3 mg/dL" in card["summary"]
    assert "2026-11-17" in card["detail"] and "2026-11-20" in card["detail"]
    assert KNOWLEDGE.cards.phrases["worse_final_note"] in card["detail"]


def test_a_normal_preliminary_does_not_hide_a_low_final(client: FlaskClient) -> None:
    body = with_magnesium(("final", 1.5, "2026-11-18T08:00:00Z"), ("preliminary", 2.0, "2026-11-20T08:00:00Z"))
    card = magnesium_card(client, body)
    assert card is not None and "final 1.5 mg/dL, low" in card["summary"] and "preliminary 2.0" in card["summary"]


def test_a_newer_final_result_decides(client: FlaskClient) -> None:
    body = with_magnesium(
        ("final", 1.1, "2026-11-16T08:00:00Z"),
        ("preliminary", 1.3, "2026-11-17T08:00:00Z"),
        ("final", 2.0, "2026-11-19T08:00:00Z"),
    )
    assert magnesium_card(client, body) is None


def test_a_preliminary_result_worse_than_the_final_is_judged_as_before(client: FlaskClient) -> None:
    body = with_magnesium(("final", 2.0, "2026-11-14T08:00:00Z"), ("preliminary", 1.1, "2026-11-20T08:00:00Z"))
    card = magnesium_card(client, body)
    assert card is not None and card["indicator"] == "critical" and "final" not in card["summary"]


def test_evaluate_says_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefetch = CRITICAL_THEN_PRELIMINARY["prefetch"]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    for value in prefetch.values():
        if value and value.get("resourceType") == "Bundle":
            bundle["entry"] += value.get("entry") or []
        elif value:
            bundle["entry"].append({"resource": value})
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    assert main(["evaluate", "--bundle", str(path), "--now", NOW.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "final 1.1 mg/dL, critical" in out and '"indicator": "critical"' in out


def test_the_checklist_and_headline_say_preliminary() -> None:
    record = prefetched_record(CRITICAL_THEN_PRELIMINARY["prefetch"], PatientInContext("preliminary-magnesium"))
    facts = build_facts(record, now=NOW, knowledge=KNOWLEDGE)
    (item,) = [i for i in checklist(facts, KNOWLEDGE) if i.analyte_id == "magnesium"]
    assert item.detail.startswith("1.3 mg/dL, preliminary on 2026-11-20")
    page = render_page(build_page(record, now=NOW, knowledge=KNOWLEDGE, window_days=365))
    assert "preliminary 1.3 mg/dL" in page
