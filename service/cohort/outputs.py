"""The run's output files, built from the finished buckets: worklist (CSV, Parquet), responses, errors.

Every file is written under a temporary name and renamed when complete. Rows are in patient-id order, whatever
engine or bucketing produced them, so two engines screening the same export write the same bytes.
"""

from __future__ import annotations

import csv
import heapq
import io
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from service.cohort.screening import WORKLIST_COLUMNS

WORKLIST_CSV = "worklist.csv"
WORKLIST_PARQUET = "worklist.parquet"
RESPONSES = "responses.jsonl"
ERRORS = "errors.csv"
SUMMARY = "summary.html"
ERROR_COLUMNS = ("file", "line", "problem")


@contextmanager
def replaced(path: Path, mode: str = "wb") -> Iterator[IO[bytes]]:
    """A file written under a temporary name and renamed over ``path`` only once it is complete."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open(mode) as handle:
            yield handle
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def result_files(folder: Path) -> list[Path]:
    """The finished buckets' results files."""
    return sorted(folder.glob("bucket=*.parquet"))


def results_table(files: Iterable[Path], columns: list[str]) -> pa.Table:
    """Some columns of every finished bucket, in patient-id order."""
    tables = [pq.read_table(path, columns=columns) for path in files]
    if not tables:
        from service.cohort.buckets import RESULT_SCHEMA

        return RESULT_SCHEMA.empty_table().select(columns)
    return pa.concat_tables(tables).sort_by([("patient_id", "ascending")])


def worklist_table(files: list[Path]) -> pa.Table:
    """One row per patient with cards."""
    table = results_table(files, ["has_cards", *WORKLIST_COLUMNS])
    return table.filter(table.column("has_cards")).select(list(WORKLIST_COLUMNS))


def write_worklist(table: pa.Table, out: Path) -> None:
    """``worklist.csv`` (RFC 4180, ``\\n`` line ends) and ``worklist.parquet`` with the same rows."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(WORKLIST_COLUMNS)
    writer.writerows(zip(*(table.column(name).to_pylist() for name in WORKLIST_COLUMNS), strict=True))
    with replaced(out / WORKLIST_CSV) as handle:
        handle.write(text.getvalue().encode())
    with replaced(out / WORKLIST_PARQUET) as handle:
        pq.write_table(table, handle)


def _responses(path: Path) -> Iterator[tuple[str, bytes]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=256, columns=["patient_id", "response"]):
        yield from zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)


def write_responses(files: list[Path], out: Path) -> None:
    """Every screened patient's CDS Hooks response, one JSON line each, merged from the sorted buckets."""
    with replaced(out / RESPONSES) as handle:
        for _, line in heapq.merge(*(_responses(path) for path in files)):
            handle.write(line + b"\n")


def write_errors(problems: Iterable[tuple[str, int | None, str]], out: Path) -> int:
    """``errors.csv``: file, line (empty for a whole file) and problem, in file and line order; returns the count."""
    rows = sorted(problems, key=lambda item: (item[0], item[1] or 0, item[2]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(ERROR_COLUMNS)
    writer.writerows((name, "" if line is None else line, problem) for name, line, problem in rows)
    with replaced(out / ERRORS) as handle:
        handle.write(text.getvalue().encode())
    return len(rows)
