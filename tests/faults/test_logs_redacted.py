"""A whole call at CDS_LOG_LEVEL=DEBUG through a real ``serve``: the log names no patient and carries no token.

Before: urllib3's DEBUG request lines printed every FHIR URL of the fall-back (``/Observation?patient=<id>``),
so ``CDS_LOG_LEVEL=DEBUG`` wrote patient ids to the log, contrary to the README. The call below goes through the
FHIR fall-back (no prefetch, a token-protected FHIR server), records its cards (SQLAlchemy) and takes feedback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from service.hooks import SERVICE_ID
from service.logs import LogFormat
from tests.conftest import ROOT
from tests.engine.engine_scenarios import fasciculation_transaction
from tests.engine.fhir_engine_harness import FhirEngine, LoadedPatient, load_transaction, start_engine
from tests.engine.hook_calls import hook_body
from tests.serving import served

TOKEN = "c2VjcmV0LWxvZy10b2tlbi0xNzM5"
FAMILY = "Quillfeatherby"
BIRTH_DATE = "1961-03-04"


@dataclass(frozen=True)
class CallLog:
    """What one served call answered and everything the server logged meanwhile."""

    log_format: LogFormat
    patient_id: str
    hook_instance: str
    status: int
    cards: list[dict[str, Any]]
    feedback_status: int
    log: str


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirEngine]:
    """A token-protected FHIR engine."""
    running = start_engine(tmp_path_factory.mktemp("log-engine"), token=TOKEN)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def patient(engine: FhirEngine) -> LoadedPatient:
    """A patient with a recognisable name and birth date, loaded into the engine."""
    return load_transaction(engine, fasciculation_transaction(family=FAMILY), "log-patient")


def feedback_for(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """Feedback overriding the first card."""
    return {
        "feedback": [
            {
                "card": cards[0]["uuid"],
                "outcome": "overridden",
                "overrideReason": {"userComment": "seen already"},
                "outcomeTimestamp": "2026-11-20T12:00:00Z",
            }
        ]
    }


@pytest.fixture(scope="module", params=list(LogFormat))
def call_log(
    request: pytest.FixtureRequest, engine: FhirEngine, patient: LoadedPatient, tmp_path_factory: pytest.TempPathFactory
) -> CallLog:
    """One fall-back call and its feedback against ``serve`` at DEBUG, in each log format."""
    directory = tmp_path_factory.mktemp("logs")
    log_path = directory / "serve.log"
    settings = {"CDS_LOG_LEVEL": "DEBUG", "CDS_LOG_FORMAT": str(request.param), "CDS_PATIENT_HASH_KEY": "k"}
    hook_instance = str(uuid.uuid4())
    body = hook_body(engine.base_url, patient.patient_id, {}, token=TOKEN, hook_instance=hook_instance)
    with served(f"sqlite:///{directory / 'cds.sqlite3'}", directory, settings=settings, log_path=log_path) as base:
        rsp = requests.post(f"{base}/cds-services/{SERVICE_ID}", json=body, timeout=30)
        cards: list[dict[str, Any]] = rsp.json().get("cards", [])
        feedback = requests.post(f"{base}/cds-services/{SERVICE_ID}/feedback", json=feedback_for(cards), timeout=30)
    return CallLog(
        request.param,
        patient.patient_id,
        hook_instance,
        rsp.status_code,
        cards,
        feedback.status_code,
        log_path.read_text(),
    )


def test_the_call_went_through_the_fall_back_and_was_logged(call_log: CallLog) -> None:
    assert call_log.status == 200 and call_log.cards
    assert call_log.feedback_status == 200
    assert call_log.hook_instance in call_log.log
    assert "DEBUG" in call_log.log  # the level really was DEBUG


def test_no_patient_id_name_birth_date_or_token_is_logged(call_log: CallLog) -> None:
    for secret in (call_log.patient_id, FAMILY, BIRTH_DATE, TOKEN):
        assert secret not in call_log.log, secret
    assert "Observation?" not in call_log.log


def test_each_line_is_in_the_configured_format(call_log: CallLog) -> None:
    """JSON: one object per line, gunicorn's own lines included; text: no line is JSON."""
    lines = [line for line in call_log.log.splitlines() if line.strip()]
    if call_log.log_format is LogFormat.TEXT:
        assert lines and not any(line.startswith("{") for line in lines)
        return
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"].startswith("gunicorn") for r in records)
    assert any(call_log.hook_instance in r["message"] for r in records)


def test_a_bad_log_format_refuses_to_start(tmp_path: Path) -> None:
    env = {**os.environ, "CDS_LOG_FORMAT": "xml", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", "1"]
    done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, timeout=60, text=True)
    assert done.returncode == 2
    assert "CDS_LOG_FORMAT" in done.stderr
