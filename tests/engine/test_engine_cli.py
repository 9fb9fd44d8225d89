"""`fasciculation-cds evaluate --fhir-server <engine>` against `evaluate --bundle` on the same data."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from service.cli import EXIT_DATA, main
from tests.engine.conftest import ENGINE_TOKEN
from tests.engine.engine_scenarios import NOW
from tests.engine.fhir_engine_harness import FhirEngine, LoadedPatient
from tests.engine.hook_calls import HOOK_INSTANCE

COMMON = ["--now", NOW.isoformat(), "--hook-instance", HOOK_INSTANCE]


def evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """Run ``evaluate`` in process and return the printed response (asserting exit code 0)."""
    assert main(["evaluate", *args, *COMMON]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def from_engine(capsys: pytest.CaptureFixture[str], engine: FhirEngine, patient_id: str) -> dict[str, Any]:
    """``evaluate --fhir-server`` for one patient on the engine, with the engine's token."""
    return evaluate(capsys, "--fhir-server", engine.base_url, "--patient", patient_id, "--token", ENGINE_TOKEN)


def from_bundle(capsys: pytest.CaptureFixture[str], patient: LoadedPatient, path: Path) -> dict[str, Any]:
    """``evaluate --bundle`` on the resources the engine stored for the patient (same ids, references resolved)."""
    path.write_text(json.dumps(patient.as_bundle()))
    return evaluate(capsys, "--bundle", str(path))


def test_scenario_same_cards_from_engine_and_bundle(
    capsys: pytest.CaptureFixture[str], engine: FhirEngine, scenario: LoadedPatient, tmp_path: Path
) -> None:
    """The scenario patient: the same (non-empty) cards whether read from the engine or from a Bundle file."""
    served = from_engine(capsys, engine, scenario.patient_id)
    filed = from_bundle(capsys, scenario, tmp_path / "scenario.json")
    assert served["cards"], "the scenario should raise cards"
    assert served == filed


def test_cli_as_a_separate_process(engine: FhirEngine, scenario: LoadedPatient) -> None:
    """``python -m service.cli evaluate --fhir-server`` in its own process prints the scenario's cards."""
    args = [sys.executable, "-m", "service.cli", "evaluate", "--fhir-server", engine.base_url]
    args += ["--patient", scenario.patient_id, "--token", ENGINE_TOKEN, *COMMON]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert "magnesium" in " ".join(card["summary"] for card in json.loads(done.stdout)["cards"]).lower()


@pytest.mark.parametrize(("token", "patient"), [(ENGINE_TOKEN, "unknown"), ("wrong-token", "scenario")])
def test_cli_fails_with_exit_3(
    capsys: pytest.CaptureFixture[str], engine: FhirEngine, scenario: LoadedPatient, token: str, patient: str
) -> None:
    """An unknown patient (404) or a refused token (401): exit code 3 and a one-line error, no cards."""
    patient_id = scenario.patient_id if patient == "scenario" else str(uuid.uuid4())
    code = main(["evaluate", "--fhir-server", engine.base_url, "--patient", patient_id, "--token", token, *COMMON])
    captured = capsys.readouterr()
    assert code == EXIT_DATA
    assert captured.out == ""
    assert "precondition_failed" in captured.err
