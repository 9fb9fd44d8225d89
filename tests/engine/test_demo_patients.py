"""``fasciculation-cds demo load`` into the test FHIR engine, then ``evaluate --fhir-server`` on every demo patient."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from typing import Any

import pytest
import requests

from fixtures.build_demo import transaction
from service.cli import main
from service.demo import WRITTEN_FOR, demo_patients, prepared, stored_bundle
from service.demo.upload import EXIT_UPLOAD
from tests.conftest import ROOT
from tests.engine.conftest import ENGINE_TOKEN, EngineFactory
from tests.engine.fhir_engine_harness import FhirEngine


@pytest.fixture(scope="module")
def demo_engine(engine_factory: EngineFactory) -> FhirEngine:
    """An empty token-protected engine of its own, so the demo data meets nobody else's."""
    return engine_factory([])


def _read(engine: FhirEngine, path: str) -> dict[str, Any]:
    answer = requests.get(f"{engine.base_url}/{path}", headers=engine.headers(), timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    document: dict[str, Any] = answer.json()
    return document


def test_demo_patients_are_distinct_named_and_eight_to_twelve() -> None:
    patients = demo_patients()
    assert 8 <= len(patients) <= 12
    assert len({p.display for p in patients}) == len({p.birth_date for p in patients}) == len(patients)
    assert {p.gender for p in patients} == {"female", "male"}


def test_committed_bundles_are_what_the_builder_makes() -> None:
    for patient in demo_patients():
        source = json.loads((ROOT / "fixtures" / "patients" / f"{patient.source}.json").read_text())
        assert stored_bundle(patient) == transaction(patient, source), f"re-run fixtures/build_demo.py ({patient.id})"
        assert stored_bundle(patient)["type"] == "transaction"


def test_dates_move_to_the_load_time_and_birth_dates_stay() -> None:
    ((patient, bundle),) = [
        item for item in prepared(WRITTEN_FOR + timedelta(days=10)) if item[0].source == "lithium_toxic"
    ]
    original = stored_bundle(patient)
    resources = [entry["resource"] for entry in bundle["entry"]]
    before = [entry["resource"] for entry in original["entry"]]
    assert resources[0]["birthDate"] == before[0]["birthDate"] == patient.birth_date.isoformat()
    moved = [(a, b) for a, b in zip(before, resources, strict=True) if "effectiveDateTime" in a]
    assert moved and all(a["effectiveDateTime"] != b["effectiveDateTime"] for a, b in moved)
    assert all(b["effectiveDateTime"][:10] > a["effectiveDateTime"][:10] for a, b in moved)


def test_demo_load_then_evaluate_gives_the_expected_cards(
    demo_engine: FhirEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "load", "--fhir-server", demo_engine.base_url, "--token", ENGINE_TOKEN]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == [f"Patient/{p.id}" for p in demo_patients()]
    for patient in demo_patients():
        stored = _read(demo_engine, f"Patient/{patient.id}")
        assert stored["name"][0]["given"] == [patient.given] and stored["gender"] == patient.gender
        assert stored["birthDate"] == patient.birth_date.isoformat()
        args = ["evaluate", "--fhir-server", demo_engine.base_url, "--patient", patient.id, "--token", ENGINE_TOKEN]
        assert main(args) == 0
        summaries = " | ".join(card["summary"] for card in json.loads(capsys.readouterr().out)["cards"]).lower()
        assert all(word in summaries for word in patient.expect), (patient.id, summaries)
        assert bool(summaries) == bool(patient.expect), (patient.id, summaries)


def test_loading_twice_updates_and_does_not_duplicate(
    demo_engine: FhirEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        assert main(["demo", "load", "--fhir-server", demo_engine.base_url, "--token", ENGINE_TOKEN]) == 0
    capsys.readouterr()
    found = _read(demo_engine, "Patient?family=Okafor")
    assert [entry["resource"]["id"] for entry in found.get("entry") or []] == ["fcds-demo-magnesium-ppi"]


def test_an_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{closed.getsockname()[1]}/fhir"
        assert main(["demo", "load", "--fhir-server", base]) == EXIT_UPLOAD
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1 and "unreachable" in captured.err


def test_a_refused_token_is_one_line(demo_engine: FhirEngine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "load", "--fhir-server", demo_engine.base_url, "--token", "wrong"]) == EXIT_UPLOAD
    assert "answered 401" in capsys.readouterr().err
