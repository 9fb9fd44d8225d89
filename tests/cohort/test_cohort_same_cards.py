"""The cohort gives, for every fixture patient and every Synthea fixture patient, the cards ``evaluate`` prints."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.cohort.screening import cohort_hook_instance
from tests.cohort.conftest import NOW, SCENARIOS, SYNTHEA, responses, run_cli
from tests.synthea_data import read_bundle

BUNDLES = sorted(SCENARIOS.glob("*.json")) + sorted(SYNTHEA.glob("*.json.gz"))


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[Path, str], dict[str, Any]]:
    """The cohort's response line per (folder, patient id): the scenario and the Synthea folders (embedded engine)."""
    found: dict[tuple[Path, str], dict[str, Any]] = {}
    for folder, status in ((SCENARIOS, 3), (SYNTHEA, 0)):
        # malformed_resource.json holds two resources without a patient: counted, and the exit status says so
        out = tmp_path_factory.mktemp("cohort-bundles")
        assert run_cli("--input", str(folder), "--out", str(out), "--now", NOW, "--workers", "2") == status
        found.update({(folder, patient): line for patient, line in responses(out).items()})
    return found


def _patient_id(path: Path) -> str:
    bundle = read_bundle(path)
    return next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def test_every_patient_screened_once(screened: dict[tuple[Path, str], dict[str, Any]]) -> None:
    assert sorted(screened) == sorted((path.parent, _patient_id(path)) for path in BUNDLES)


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name.split(".")[0][:40])
def test_same_cards_as_evaluate(screened: dict[tuple[Path, str], dict[str, Any]], bundle: Path) -> None:
    """Same rule ids, summaries, details, suggestions and links, byte for byte, with the cohort's hookInstance."""
    patient_id = _patient_id(bundle)
    line = screened[bundle.parent, patient_id]
    assert line["hookInstance"] == cohort_hook_instance(patient_id, dt.datetime.fromisoformat(NOW))
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["evaluate", "--bundle", str(bundle), "--now", NOW, "--hook-instance", line["hookInstance"]]) == 0
    assert line["response"] == json.loads(printed.getvalue())
