"""Bulk Data NDJSON folders: several files per type, gzip, bad lines counted by line, patients never mixed, resume."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pytest

from bench.population import patient_id, write_export
from service.cohort.run import STATE
from tests.cohort.conftest import NOW, responses, run_cli

PATIENTS = 40


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-patient export (NDJSON, 200 lines per file), with broken lines and resources of no patient added."""
    folder = tmp_path_factory.mktemp("ndjson")
    write_export(folder, PATIENTS, lines_per_file=200)
    broken = folder / "Observation.900.ndjson.gz"
    lines = [
        # a magnesium result without a subject (a vital sign without one is not read, so not counted)
        b'{"resourceType":"Observation","id":"orphan","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"19123-9"}]}}',
        b"",  # blank lines are passed over
        b'{"resourceType":"Observation", "id": truncated',
        b'{"resourceType":"Condition","id":"c-x","subject":{"reference":"Group/7"}}',  # not a Patient
        b'{"resourceType":"Condition","id":"c-y","subject":{"reference":"Patient/not-exported"}}',
        b'{"resourceType":"Condition","id":"c-z","subject":{"reference":"http://elsewhere.invalid/fhir/Patient/p1"}}',
        b"\xff\xfe not text",
        b'{"id":"no-type"}',
    ]
    broken.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    (folder / "Condition.901.ndjson.gz").write_bytes(b"this is not gzip")
    return folder


@pytest.fixture(scope="module")
def screened(export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ndjson-out")
    assert run_cli("--input", str(export), "--out", str(out), "--now", NOW, "--workers", "2") == 3
    return out


def test_every_patient_screened_with_only_their_own_resources(screened: Path) -> None:
    lines = responses(screened)
    assert sorted(lines) == sorted(patient_id(i) for i in range(PATIENTS))
    for patient, line in lines.items():
        subjects = {
            action["resource"]["subject"]["reference"]
            for card in line["response"]["cards"]
            for suggestion in card.get("suggestions", [])
            for action in suggestion["actions"]
        }
        assert subjects <= {f"Patient/{patient}"}


def test_problems_counted_by_file_and_line(screened: Path) -> None:
    with (screened / "errors.csv").open() as handle:
        rows = [(r["file"], r["line"], r["problem"]) for r in csv.DictReader(handle)]
    broken = "Observation.900.ndjson.gz"
    assert (broken, "1", "Observation without a subject reference") in rows
    assert (broken, "3", "not a JSON object") in rows
    assert (broken, "4", "Condition whose subject is not a Patient of this export") in rows
    assert (broken, "5", "Condition of a patient whose Patient resource is not in the export") in rows
    assert (broken, "6", "Condition whose subject is not a Patient of this export") in rows  # another server
    assert (broken, "7", "line is not UTF-8 text") in rows
    assert (broken, "8", "no resourceType") in rows
    assert any(f == "Condition.901.ndjson.gz" and line == "" and "not readable" in p for f, line, p in rows)
    assert len([r for r in rows if r[0] == broken]) == 7


def test_worklist_columns_and_no_ids_on_the_summary(screened: Path) -> None:
    with (screened / "worklist.csv").open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames is not None and reader.fieldnames[:3] == ["patient_id", "indicator", "rule_ids"]
    assert rows and all(r["indicator"] in {"info", "warning", "critical"} and r["rule_ids"] for r in rows)
    summary = (screened / "summary.html").read_text()
    assert "patients screened" in summary and "<script" not in summary
    assert not any(patient_id(i) in summary for i in range(PATIENTS))


def test_resume_redoes_no_finished_bucket(export: Path, screened: Path, tmp_path: Path) -> None:
    """An interrupted run (two buckets' results lost, outputs gone) resumes to the same bytes."""
    out = tmp_path / "resumed"
    shutil.copytree(screened, out)
    results = sorted((out / STATE / "results").glob("bucket=*.parquet"))
    kept = {path: path.stat().st_mtime_ns for path in results[2:]}
    for path in [*results[:2], out / "worklist.csv", out / "responses.jsonl"]:
        path.unlink()
    assert run_cli("--input", str(export), "--out", str(out), "--resume") == 3
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    for name in ("worklist.csv", "worklist.parquet", "responses.jsonl", "errors.csv"):
        assert (out / name).read_bytes() == (screened / name).read_bytes(), name


def test_resume_refuses_another_instant(export: Path, screened: Path, tmp_path: Path) -> None:
    out = tmp_path / "other"
    shutil.copytree(screened, out)
    assert run_cli("--input", str(export), "--out", str(out), "--resume", "--now", "2027-01-01T00:00:00Z") == 2


def test_no_half_written_outputs(screened: Path) -> None:
    assert not [p for p in screened.rglob("*") if p.name.endswith(".tmp")]
    assert json.loads((screened / STATE / "run.json").read_text())["now"].startswith("2026-11-20")


def test_spark_gives_the_same_files(export: Path, screened: Path, tmp_path: Path) -> None:
    """Spark on the same export: the same worklist, responses, and problems (its reader decodes bad UTF-8)."""
    assert run_cli("--input", str(export), "--out", str(tmp_path), "--now", NOW, "--engine", "spark") == 3
    for name in ("worklist.csv", "worklist.parquet", "responses.jsonl"):
        assert (tmp_path / name).read_bytes() == (screened / name).read_bytes(), name
    embedded = (screened / "errors.csv").read_text().splitlines()
    spark = (tmp_path / "errors.csv").read_text().splitlines()
    utf8 = "Observation.900.ndjson.gz,7,line is not UTF-8 text"
    assert spark == [line.replace(utf8, "Observation.900.ndjson.gz,7,not a JSON object") for line in embedded]
