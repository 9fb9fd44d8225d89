"""All 18 Synthea patients screened from the engine: through the app, the CLI, and a Bundle of the same data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.cli import main
from tests.engine.conftest import ENGINE_TOKEN, LoadedEngine
from tests.engine.engine_scenarios import NOW
from tests.engine.hook_calls import HOOK_INSTANCE, call, engine_app, hook_body

SYNTHEA_PATIENTS = 18
COMMON = ["--now", NOW.isoformat(), "--hook-instance", HOOK_INSTANCE]


@pytest.fixture(scope="module")
def app(loaded_engine: LoadedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The real app, allowed to call the session engine."""
    with engine_app(tmp_path_factory.mktemp("synthea-db"), loaded_engine.base_url) as flask_app:
        yield flask_app


def cli_cards(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    """The cards ``evaluate`` prints (asserting exit code 0)."""
    assert main(["evaluate", *args, *COMMON]) == 0
    cards: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["cards"]
    return cards


@pytest.mark.parametrize("index", range(SYNTHEA_PATIENTS))
def test_synthea_patient_screens_without_error(
    index: int, app: Flask, loaded_engine: LoadedEngine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No prefetch, every key from the engine: 200, and the same cards as the CLI from the engine and from a file.

    The cards may well be empty: these patients have diabetic neuropathy and calcium results but no documented
    fasciculations, so the service speaks only if a reversible cause is actually found.
    """
    patient = loaded_engine.patients[index]
    status, answer = call(app, hook_body(loaded_engine.base_url, patient.patient_id, {}, token=ENGINE_TOKEN))
    assert status == 200, answer
    served = cli_cards(
        capsys, "--fhir-server", loaded_engine.base_url, "--patient", patient.patient_id, "--token", ENGINE_TOKEN
    )
    bundle_path = tmp_path / "patient.json"
    bundle_path.write_text(json.dumps(patient.as_bundle()))
    filed = cli_cards(capsys, "--bundle", str(bundle_path))
    assert answer["cards"] == served == filed, patient.name
