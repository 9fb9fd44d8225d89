"""Order recognition (codes before text, whole words), the loader's orders.yaml checks, and ``evaluate`` on orders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.cli import main
from service.facts.code_index import Match, flatten_concepts
from service.knowledge import KNOWLEDGE_DIR, KnowledgeError, load_knowledge, load_knowledge_from
from service.orders import CPT_SYSTEM, match_trigger

from .conftest import ROOT, order_request


def _key(match: Match | None) -> tuple[str, str] | None:
    """A recognised trigger as (trigger id, how it was recognised)."""
    return (match.key, match.confidence) if match else None


@pytest.mark.parametrize(
    ("concept", "expected"),
    [
        ({"coding": [{"system": CPT_SYSTEM, "code": "95907"}]}, ("emg", "code")),
        ({"coding": [{"system": CPT_SYSTEM, "code": "95999"}]}, None),  # outside every EMG/NCS range
        ({"coding": [{"system": "http://snomed.info/sct", "code": "308474002"}]}, ("neurology-referral", "code")),
        ({"text": "EMG left arm"}, ("emg", "text")),
        ({"text": "Electromyography"}, ("emg", "text")),
        ({"text": "Emgality injection"}, None),  # whole words only
        ({"text": "Referral to neurology clinic"}, ("neurology-referral", "text")),
    ],
)
def test_service_request_triggers(concept: dict[str, object], expected: tuple[str, str] | None) -> None:
    assert _key(match_trigger("ServiceRequest", flatten_concepts([concept]), load_knowledge())) == expected


def test_medication_triggers_by_code_and_name() -> None:
    knowledge = load_knowledge()
    rxnorm = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1876380"}]}
    assert _key(match_trigger("MedicationRequest", flatten_concepts([rxnorm]), knowledge)) == ("ms-dmt", "code")
    named = flatten_concepts([{"text": "Dimethyl fumarate 240 MG Delayed Release Oral Capsule"}])
    assert _key(match_trigger("MedicationRequest", named, knowledge)) == ("ms-dmt", "text")
    assert _key(match_trigger("MedicationRequest", flatten_concepts([{"text": "Edaravone"}]), knowledge)) == (
        "als-treatment",
        "text",
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("silent_rules: [red-flags]", "silent_rules: [red-flags]\nsurprise: 1", "surprise"),
        ("  - group: lithium\n", "  - group: ppi\n", "ppi"),
        ("    rules: [drug.stimulant]\n", "    rules: [drug.stimulent]\n", "drug.stimulent"),
        ("    ordered_now: [drug.stimulant]\n", "    ordered_now: [drug.lithium]\n", "drug.lithium"),
        ("citations: [atc-riluzole,", "citations: [no-such-source,", "no-such-source"),
        ('"95885-95887"', '"95887-95885"', "backwards"),
        ("silent_rules: [red-flags]", "silent_rules: [no.such.rule]", "no.such.rule"),
    ],
)
def test_bad_orders_file_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    path = folder / "orders.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge_from(folder)


def test_cli_evaluate_order_select(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drafts = tmp_path / "drafts.json"
    drafts.write_text(json.dumps(order_request("order-select", "several_orders")["context"]["draftOrders"]))
    bundle = str(ROOT / "fixtures" / "patients" / "magnesium_first.json")
    common = ["evaluate", "--bundle", bundle, "--now", "2026-11-20T12:00:00Z", "--draft-orders", str(drafts)]
    assert main([*common, "--hook", "order-select", "--selection", "MedicationRequest/alb-1"]) == 0
    cards = json.loads(capsys.readouterr().out)["cards"]
    assert [c["summary"] for c in cards] == [
        "New order, patient has fasciculations: Albuterol ordered now: can cause twitching"
    ]
    assert main([*common, "--hook", "order-sign"]) == 0
    assert len(json.loads(capsys.readouterr().out)["cards"]) == 3
    assert main([*common, "--hook", "order-select", "--selection", "ServiceRequest/missing"]) == 3
    assert "context.selections" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--bundle", bundle, "--hook", "order-sign"])  # no --draft-orders
