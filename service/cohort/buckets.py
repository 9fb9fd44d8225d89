"""One bucket of patients: staged resources (Parquet) -> the screen, patient by patient -> a results file.

Staged rows carry (patient, file_id, line_no, full_url, json); a patient's resources are screened in the order they
were read (file, then line), so every engine hands the screen the same list. Results are written to a temporary name
and renamed when complete: a bucket is either finished or absent, never half-written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from service.cohort.screening import WORKLIST_COLUMNS, Entry, PatientOutcome, ScreenContext, screen_groups

STAGE_COLUMNS = ["patient", "file_id", "line_no", "full_url", "json"]
_INT_COLUMNS = frozenset({"cards", "skipped_resources"})
RESULT_SCHEMA = pa.schema(
    [
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("has_cards", pa.bool_(), nullable=False),
        pa.field("screen_mode", pa.string(), nullable=False),
        pa.field("workup_open", pa.bool_(), nullable=False),
        *(pa.field(c, pa.int64() if c in _INT_COLUMNS else pa.string()) for c in WORKLIST_COLUMNS[1:]),
        pa.field("skipped", pa.int64(), nullable=False),
        pa.field("response", pa.binary(), nullable=False),
    ]
)


@dataclass(frozen=True)
class BucketDone:
    """What one bucket produced (counts only: no patient data travels back to the parent)."""

    bucket: str
    patients: int
    with_cards: int


def sorted_groups(table: pa.Table) -> Iterator[tuple[str, Sequence[Entry]]]:
    """(patient, entries in read order) for every patient of a staged table, patients in id order."""
    ordered = table.sort_by([("patient", "ascending"), ("file_id", "ascending"), ("line_no", "ascending")])
    rows = zip(
        ordered.column("patient").to_pylist(),
        ordered.column("json").cast(pa.binary()).to_pylist(),  # bytes: orjson parses them without re-encoding
        ordered.column("full_url").to_pylist(),
        strict=True,
    )
    for patient, items in groupby(rows, key=lambda row: row[0]):
        yield patient, [Entry(json, url) for _, json, url in items]


def outcomes_table(outcomes: Sequence[PatientOutcome]) -> pa.Table:
    """The results of a bucket as an Arrow table, patients in id order."""
    columns: dict[str, list[object]] = {name: [] for name in RESULT_SCHEMA.names}
    for outcome in sorted(outcomes, key=lambda item: item.patient_id):
        row = outcome.row or {}
        columns["patient_id"].append(outcome.patient_id)
        columns["has_cards"].append(outcome.row is not None)
        columns["screen_mode"].append(outcome.mode)
        columns["workup_open"].append(outcome.workup_open)
        for name in WORKLIST_COLUMNS[1:]:
            columns[name].append(row.get(name))
        columns["skipped"].append(outcome.skipped)
        columns["response"].append(outcome.response_line)
    return pa.table(columns, schema=RESULT_SCHEMA)


def write_atomically(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a temporary name in the same folder, then rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


def screen_table(table: pa.Table, target: Path, context: ScreenContext) -> BucketDone:
    """Screen every patient of one bucket's staged rows and write its results file."""
    outcomes = list(screen_groups(sorted_groups(table), context))
    write_atomically(outcomes_table(outcomes), target)
    return BucketDone(target.stem, len(outcomes), sum(1 for item in outcomes if item.row is not None))


def screen_bucket(source: Path, target: Path, context: ScreenContext) -> BucketDone:
    """Screen one staged bucket (a folder of Parquet files) into its results file."""
    return screen_table(pq.read_table(source, columns=STAGE_COLUMNS), target, context)
