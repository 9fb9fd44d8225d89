"""A live Bulk Data $export from the test FHIR engine, screened end to end by both engines."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import requests

from service.cli import main
from tests.cohort.conftest import NOW, SCENARIOS, responses, run_cli
from tests.engine.fhir_engine_harness import FhirEngine, load_keeping_ids, load_synthea, start_engine, synthea_files

TOKEN = "cohort-export-token"
# Known divergence shared with the engine tests: the engine stores the decimal 2.0 as 2 (tests/engine).
STORED_AS_SENT_EXCEPT = {"stale-labs"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FhirEngine, dict[str, dict[str, Any]]]]:
    """An engine holding every Synthea and scenario patient; patient id -> the stored resources as a Bundle."""
    engine = start_engine(
        tmp_path_factory.mktemp("engine"), TOKEN, ["--export-file-lines", "150", "--export-polls", "2"]
    )
    try:
        stored = {p.patient_id: p.as_bundle() for p in load_synthea(engine, synthea_files())}
        for path in sorted(SCENARIOS.glob("*.json")):
            answer = load_keeping_ids(engine, json.loads(path.read_bytes()))
            resources = [e["resource"] for e in answer.get("entry") or [] if "resource" in e]
            patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
            entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
            stored[patient] = {"resourceType": "Bundle", "type": "collection", "entry": entries}
        yield engine, stored
    finally:
        engine.stop()


@pytest.fixture(scope="module")
def exported(engine: tuple[FhirEngine, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`cohort --input <engine base>` with each engine (Patient/$export, bearer token)."""
    runs = {}
    for name in ("embedded", "spark"):
        out = tmp_path_factory.mktemp(f"export-{name}")
        args = ["--input", engine[0].base_url, "--out", str(out), "--now", NOW, "--token", TOKEN, "--engine", name]
        assert run_cli(*args) == 3  # malformed_resource's two resources without a subject: counted, status 3
        runs[name] = out
    return runs


def test_export_downloaded_as_bulk_data(exported: dict[str, Path]) -> None:
    """Several NDJSON files per type, only the types the screen reads, and the manifest written last."""
    folder = exported["embedded"] / "export"
    manifest = json.loads((folder / "manifest.json").read_text())
    types = {item["type"] for item in manifest["output"]}
    assert types <= {
        "Patient",
        "Observation",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Medication",
    }
    assert sum(1 for item in manifest["output"] if item["type"] == "Observation") > 1
    assert manifest["requiresAccessToken"] is True


def test_both_engines_write_identical_worklists(exported: dict[str, Path]) -> None:
    for name in ("worklist.csv", "worklist.parquet", "responses.jsonl"):
        assert (exported["embedded"] / name).read_bytes() == (exported["spark"] / name).read_bytes(), name


def test_same_cards_as_evaluate_on_the_stored_data(
    engine: tuple[FhirEngine, dict[str, dict[str, Any]]], exported: dict[str, Path], tmp_path: Path
) -> None:
    """Every loaded patient: the export's cards equal ``evaluate --bundle`` of what the engine stored."""
    lines = responses(exported["embedded"])
    assert sorted(lines) == sorted(engine[1])
    for patient, bundle in engine[1].items():
        path = tmp_path / "stored.json"
        path.write_text(json.dumps(bundle))
        printed = io.StringIO()
        with redirect_stdout(printed):
            args = ["evaluate", "--bundle", str(path), "--now", NOW, "--hook-instance", lines[patient]["hookInstance"]]
            assert main(args) == 0
        assert lines[patient]["response"] == json.loads(printed.getvalue()), patient


def test_type_filter_and_since(engine: tuple[FhirEngine, Any]) -> None:
    """The engine's $export honours _typeFilter (Observations by code) and _since (nothing changed since 2099)."""
    base, headers = engine[0].base_url, {"Authorization": f"Bearer {TOKEN}", "Prefer": "respond-async"}

    def manifest(**params: str) -> dict[str, Any]:
        status = requests.get(f"{base}/$export", params=params, headers=headers, timeout=30).headers["Content-Location"]
        while (rsp := requests.get(status, headers=headers, timeout=30)).status_code == 202:
            assert rsp.headers["X-Progress"] and rsp.headers["Retry-After"]
        return dict(rsp.json())

    lithium = manifest(_type="Observation", _typeFilter="Observation?code=http://loinc.org|14334-7")
    lines = [
        json.loads(line)
        for item in lithium["output"]
        for line in requests.get(item["url"], headers=headers, timeout=30).text.splitlines()
    ]
    assert lines and all(c["code"] == "14334-7" for r in lines for c in r["code"]["coding"] if "loinc" in c["system"])
    assert manifest(_type="Observation", _since="2099-01-01T00:00:00Z")["output"] == []


def test_cancel_deletes_the_job(engine: tuple[FhirEngine, Any]) -> None:
    base, headers = engine[0].base_url, {"Authorization": f"Bearer {TOKEN}", "Prefer": "respond-async"}
    status = requests.get(f"{base}/Patient/$export", headers=headers, timeout=30).headers["Content-Location"]
    assert requests.delete(status, headers=headers, timeout=30).status_code == 202
    assert requests.get(status, headers=headers, timeout=30).status_code == 404
