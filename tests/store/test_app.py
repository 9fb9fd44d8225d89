"""End to end through ``create_app``: real cards recorded, feedback on them, restart, report from a new process."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from service.store import Store
from service.store.tables import issued_cards
from tests.conftest import ROOT, service_app
from tests.store.test_http import report_from_new_process

SERVICE = "fasciculation-reversible-causes"
KEY = "app-test-key"
SCENARIOS = ("magnesium_first", "fasciculation_missing_labs")
EMPTY = {"resourceType": "Bundle", "type": "searchset"}


@contextmanager
def app_on(database_url: str) -> Iterator[Flask]:
    """The real app on ``database_url`` (its store closed afterwards)."""
    with service_app(None, database_url=database_url, patient_hash_key=KEY) as app:
        yield app


def hook_body(app: Flask, scenario: str, hook_instance: str) -> tuple[dict[str, Any], str]:
    """A patient-view call prefetching a scenario bundle (every other key the service asks for empty); the patient."""
    bundle = json.loads((ROOT / "fixtures" / "patients" / f"{scenario}.json").read_text(encoding="utf-8"))
    patient_id = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    services = json_of(app.test_client().get("/cds-services"))["services"]
    [service] = [s for s in services if s["id"] == SERVICE and s["hook"] == "patient-view"]  # one id, several hooks
    prefetch = dict.fromkeys(service["prefetch"], EMPTY)
    context = {"userId": "Practitioner/1", "patientId": patient_id}
    body = {
        "hook": "patient-view",
        "hookInstance": hook_instance,
        "context": context,
        "prefetch": {**prefetch, "patient": bundle},
    }
    return body, patient_id


def json_of(response: TestResponse) -> dict[str, Any]:
    """The JSON object a response carries."""
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def feedback_on(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accept cards that offer suggestions, override the others with their first reason."""
    items = []
    for card in cards:
        item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": "2026-11-20T12:10:00Z"}
        if card.get("suggestions"):
            item.update(outcome="accepted", acceptedSuggestions=[{"id": card["suggestions"][0]["uuid"]}])
        else:
            reason = card["overrideReasons"][0]
            item.update(outcome="overridden", overrideReason={"reason": {k: reason[k] for k in ("code", "system")}})
        items.append(item)
    return items


def test_cards_feedback_restart_report(database_url: str, tmp_path: Path) -> None:
    cards: list[dict[str, Any]] = []
    patient_ids: list[str] = []
    with app_on(database_url) as app:
        client = app.test_client()
        for n, scenario in enumerate(SCENARIOS):
            body, patient_id = hook_body(app, scenario, f"d1577c69-dfbe-44ad-ba6d-3e05e953b2e{n}")
            response = client.post(f"/cds-services/{SERVICE}", json=body)
            assert response.status_code == 200
            cards += json_of(response)["cards"]
            patient_ids.append(patient_id)
        items = feedback_on(cards)
        assert {item["outcome"] for item in items} == {"accepted", "overridden"}
        answer = json_of(client.post(f"/cds-services/{SERVICE}/feedback", json={"feedback": items}))
        store: Store = app.extensions["fasciculation_cds.store"]
        with store.engine.connect() as connection:
            rows = {row.card_uuid: row for row in connection.execute(select(issued_cards))}
    assert len(cards) >= 3 and answer == {
        "received": len(items),
        "stored": len(items),
        "duplicates": 0,
        "unknownCards": 0,
    }
    for card in cards:
        extension = card["extension"]["org.fasciculation-cds.card"]
        row = rows[card["uuid"]]
        assert (row.rule_id, row.knowledge_version) == (extension["ruleId"], extension["knowledgeVersion"])
    assert (
        rows[cards[-1]["uuid"]].patient_hash == hmac.new(KEY.encode(), patient_id.encode(), hashlib.sha256).hexdigest()
    )
    assert not [p for p in patient_ids for row in rows.values() if p in repr(tuple(row))]

    with app_on(database_url) as restarted:
        again = json_of(restarted.test_client().post(f"/cds-services/{SERVICE}/feedback", json={"feedback": items}))
    assert again["duplicates"] == len(items)

    report = {rule["ruleId"]: rule for rule in report_from_new_process(database_url, tmp_path)["rules"]}
    expected = Counter(card["extension"]["org.fasciculation-cds.card"]["ruleId"] for card in cards)
    assert {rule_id: rule["shown"] for rule_id, rule in report.items()} == dict(expected)
    assert sum(rule["accepted"] + rule["overridden"] for rule in report.values()) == len(items)
    assert any(reason["display"] for rule in report.values() for reason in rule["topOverrideReasons"])
