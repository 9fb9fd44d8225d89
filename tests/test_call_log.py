"""Each hook call leaves ONE info line: service, hook, hookInstance, card count, rule ids, elapsed time."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from tests.conftest import REQUESTS, AppFactory

MAGNESIUM_FIRST = REQUESTS / "patient-view" / "magnesium_first.json"


def test_one_line_per_call_names_the_rules_behind_the_cards(
    app_factory: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    body = orjson.loads(Path(MAGNESIUM_FIRST).read_bytes())
    client = app_factory().test_client()
    with caplog.at_level(logging.INFO):
        answer = client.post("/cds-services/fasciculation-reversible-causes", json=body)
    assert answer.status_code == 200
    rule_ids = [card["extension"]["org.fasciculation-cds.card"]["ruleId"] for card in answer.get_json()["cards"]]
    lines = [
        r.getMessage() for r in caplog.records if r.levelno == logging.INFO and body["hookInstance"] in r.getMessage()
    ]
    assert len(lines) == 1, lines
    assert (
        f"hookInstance={body['hookInstance']} cards={len(rule_ids)} rules={','.join(rule_ids)} elapsed_ms=" in lines[0]
    )
    assert lines[0].startswith("service=fasciculation-reversible-causes hook=patient-view ")
    assert body["context"]["patientId"] not in lines[0]
