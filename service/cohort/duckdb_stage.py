"""The embedded engine's reading and grouping: DuckDB reads every file, keeps what the screen reads, keys it by patient.

DuckDB parses the JSON (C++, several threads), filters the resource types and the labs' LOINC codes, resolves each
resource's patient reference, joins the shared Medications, and writes the result as Parquet buckets of patients
(``bucket=N/``), spilling to disk past its memory limit. Python never sees a line the screen does not read.
"""

from __future__ import annotations

import bisect
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from service.cohort.sources import (
    FHIR_ID,
    NOT_A_BUNDLE,
    PATIENT_TYPE,
    SCREEN_TYPES,
    SUBJECT_TYPES,
    UNREADABLE_FILE,
    FileKind,
    InputFile,
    Inputs,
    ObservationFilter,
    patient_reference_pattern,
    unreadable,
)

MAX_LINE_BYTES = 64 << 20  # a longer NDJSON line is counted as unreadable (by line number), not read
MIN_BUNDLE_BYTES = 16 << 20
MAX_BUNDLE_BYTES = 512 << 20  # a Bundle file is one JSON document: DuckDB holds it whole while reading it
_TABLES = (
    """CREATE TABLE resources (file_id INTEGER, ndjson BOOLEAN, line_no BIGINT, full_url VARCHAR, json VARCHAR,
        ok BOOLEAN, rtype VARCHAR, rid VARCHAR, ref VARCHAR, medref VARCHAR)""",
    "CREATE TABLE problems (file_id INTEGER, line_no BIGINT, problem VARCHAR)",
)
_FIELDS = "json_extract_string(v, ['$.resourceType', '$.id', '$.subject.reference', '$.medicationReference.reference'])"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _wanted(observations: ObservationFilter) -> str:
    """The resources the screen reads: its types, Observations only with a labs LOINC code or the exam category."""
    keep = ", ".join(_literal(t) for t in SCREEN_TYPES)
    codes = "[" + ", ".join(_literal(c) for c in observations.loinc_codes) + "]::VARCHAR[]"
    category = _literal(observations.category)
    return f"""f[1] IN ({keep}) AND (f[1] <> 'Observation' OR list_has_any(loinc, {codes})
        OR list_contains(cats, {category}))"""


def _extract(source: str, wanted: str) -> str:
    """Columns of ``resources`` from a relation with (line_no, full_url, j): fields parsed once per resource.

    Every JSON function reads ``v``, which is NULL unless the line is a JSON object, so a broken line is counted
    (``ok`` false) instead of failing the file. Only broken lines and resources the screen reads are kept.
    """
    fields = f"""SELECT line_no, full_url, j, ok, v, {_FIELDS} AS f FROM (SELECT *, CASE WHEN ok THEN j END AS v
        FROM (SELECT *, CASE WHEN json_valid(j) THEN json_type(j) = 'OBJECT' ELSE false END AS ok FROM ({source})
        WHERE trim(j) <> ''))"""
    observation = "CASE WHEN f[1] = 'Observation' THEN v END"
    return f"""
    SELECT line_no, full_url, j, ok, f,
        [c.code FOR c IN coalesce(json_transform({observation} -> '$.code.coding',
            '[{{"system":"VARCHAR","code":"VARCHAR"}}]'), []) IF c.system = 'http://loinc.org'] AS loinc,
        json_extract_string({observation}, '$.category[*].coding[*].code') AS cats
    FROM ({fields})
    WHERE NOT ok OR f[1] IS NULL OR ({wanted})"""


def _ndjson_source(path: Path) -> str:
    return f"""SELECT row_number() OVER () AS line_no, NULL::VARCHAR AS full_url, line AS j
        FROM read_csv({_literal(str(path))}, columns={{'line': 'VARCHAR'}}, header=false, delim=chr(1), quote='',
        escape='', auto_detect=false, new_line='\\n', strict_mode=false, max_line_size={MAX_LINE_BYTES},
        ignore_errors=true, store_rejects=true)"""


def _bundle_limit(path: Path) -> int:
    """DuckDB's object size limit for one Bundle file (it allocates that much): the file's size, with room for gzip."""
    size = path.stat().st_size * (12 if path.name.endswith(".gz") else 1) + 1
    return min(MAX_BUNDLE_BYTES, max(MIN_BUNDLE_BYTES, size))


def _bundle_source(path: Path) -> str:
    entries = f"""SELECT json_extract(json, '$.entry[*]') AS es FROM read_json_objects({_literal(str(path))},
        format='unstructured', maximum_object_size={_bundle_limit(path)})
        WHERE json_extract_string(json, '$.resourceType') = 'Bundle'"""
    return f"""SELECT unnest(range(1, len(es) + 1)) AS line_no, unnest([e ->> 'fullUrl' FOR e IN es]) AS full_url,
        unnest([(e -> '$.resource')::VARCHAR FOR e IN es]) AS j FROM ({entries})"""


@dataclass
class DuckStage:
    """One staging database: resources are loaded file by file, then grouped into Parquet buckets."""

    con: duckdb.DuckDBPyConnection
    inputs: Inputs
    observations: ObservationFilter

    def __post_init__(self) -> None:
        for sql in _TABLES:
            self.con.execute(sql)

    def problem(self, file_id: int, line_no: int | None, problem: str) -> None:
        """Count one data problem (a file, or one line of it)."""
        self.con.execute("INSERT INTO problems VALUES (?, ?, ?)", [file_id, line_no, problem])

    def load(self, item: InputFile) -> None:
        """Insert one file's resources; a file that cannot be read is counted and passed over (nothing inserted)."""
        source = _ndjson_source(item.path) if item.kind == FileKind.NDJSON else _bundle_source(item.path)
        select = _extract(source, _wanted(self.observations))
        ndjson = "true" if item.kind == FileKind.NDJSON else "false"
        sql = f"""INSERT INTO resources SELECT {item.file_id}, {ndjson}, line_no, full_url, j, ok, f[1], f[2], f[3],
            f[4] FROM ({select})"""
        try:
            self.con.execute("BEGIN")
            self.con.execute(sql)
            if item.kind == FileKind.BUNDLE and not self._bundle_read(item):
                self.con.execute("ROLLBACK")
                self.problem(item.file_id, None, NOT_A_BUNDLE)
                return
            self._rejected_lines(item)
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            self.con.execute("ROLLBACK")  # the engines' shared words when the file itself is broken, else DuckDB's
            self.problem(item.file_id, None, unreadable(item) or f"{UNREADABLE_FILE}: {_reason(exc)}")

    def _bundle_read(self, item: InputFile) -> bool:
        sql = f"SELECT count(*) FROM resources WHERE file_id = {item.file_id}"
        found = self.con.execute(sql).fetchone()
        if found and found[0]:
            return True
        probe = f"""SELECT count(*) FROM read_json_objects({_literal(str(item.path))}, format='unstructured',
            maximum_object_size={_bundle_limit(item.path)})
            WHERE json_extract_string(json, '$.resourceType') = 'Bundle'"""
        bundles = self.con.execute(probe).fetchone()
        return bool(bundles and bundles[0])

    def _rejected_lines(self, item: InputFile) -> None:
        """Lines DuckDB could not decode (not UTF-8): counted, and later line numbers shifted back into place."""
        if item.kind != FileKind.NDJSON:
            return
        rows = self.con.execute("SELECT line FROM reject_errors ORDER BY line").fetchall()
        self.con.execute("DELETE FROM reject_errors")
        self.con.execute("DELETE FROM reject_scans")
        rejected = [int(row[0]) for row in rows]
        for line in rejected:
            self.problem(item.file_id, line, "line is not UTF-8 text")
        if rejected:
            self._renumber(item.file_id, rejected)

    def _renumber(self, file_id: int, rejected: list[int]) -> None:
        """Accepted row n was line n + (rejected lines before it): rewrite the file's line numbers."""
        shifts = [line - index for index, line in enumerate(rejected, start=1)]  # accepted rows before each reject
        rows = self.con.execute(f"SELECT DISTINCT line_no FROM resources WHERE file_id = {file_id}").fetchall()
        mapping = [(n, n + bisect.bisect_left(shifts, n)) for (n,) in rows]
        self.con.execute("CREATE TEMP TABLE renumber (old BIGINT, new BIGINT)")
        self.con.executemany("INSERT INTO renumber VALUES (?, ?)", mapping)
        self.con.execute(
            f"UPDATE resources SET line_no = r.new FROM renumber r WHERE file_id = {file_id} AND line_no = r.old"
        )
        self.con.execute("DROP TABLE renumber")


def _reason(exc: duckdb.Error) -> str:
    """DuckDB's message up to any quoted input (it may quote a line of the file: never copied into an output)."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    for cut in (" Input:", '"', "'"):
        text = text.split(cut, 1)[0]
    return text.strip()[:200]


def _resolved_sql(stage: DuckStage) -> str:
    """Every loaded resource with the patient it belongs to (NULL when it cannot be told)."""
    pattern = _literal(patient_reference_pattern("Patient", stage.inputs.bases))
    subject = ", ".join(_literal(t) for t in SUBJECT_TYPES)
    return f"""
    CREATE TABLE resolved AS
    WITH bundle_patients AS (SELECT DISTINCT file_id, full_url, rid FROM resources
        WHERE rtype = 'Patient' AND full_url IS NOT NULL AND regexp_full_match(rid, '{FHIR_ID}'))
    SELECT r.file_id, r.ndjson, r.line_no, r.full_url, r.json, r.rtype, r.rid, r.ref, r.medref,
        CASE WHEN r.rtype = '{PATIENT_TYPE}' THEN CASE WHEN regexp_full_match(r.rid, '{FHIR_ID}') THEN r.rid END
             WHEN r.rtype IN ({subject}) THEN coalesce(b.rid, nullif(regexp_extract(r.ref, {pattern}, 1), '')) END
            AS patient
    FROM resources r LEFT JOIN bundle_patients b ON b.file_id = r.file_id AND b.full_url = r.ref
    WHERE r.rtype IS NOT NULL"""


_PROBLEMS = """
INSERT INTO problems
SELECT file_id, line_no, CASE WHEN ok THEN 'no resourceType' ELSE 'not a JSON object' END
    FROM resources WHERE rtype IS NULL
UNION ALL SELECT file_id, line_no, 'Patient without a valid id' FROM resolved
    WHERE rtype = 'Patient' AND patient IS NULL
UNION ALL SELECT file_id, line_no, CASE WHEN ref IS NULL THEN rtype || ' without a subject reference'
    ELSE rtype || ' whose subject is not a Patient of this export' END
    FROM resolved WHERE rtype <> 'Patient' AND rtype <> 'Medication' AND patient IS NULL
UNION ALL SELECT file_id, line_no, rtype || ' of a patient whose Patient resource is not in the export'
    FROM resolved WHERE rtype <> 'Patient' AND rtype <> 'Medication' AND patient IS NOT NULL
    AND patient NOT IN (SELECT patient FROM known)"""


def _staged_sql(buckets: int, medication_pattern: str) -> str:
    """Each patient's resources (their own, plus the Medications they reference), with the patient's bucket."""
    return f"""
    CREATE TABLE staged AS
    WITH own AS (SELECT patient, file_id, line_no, full_url, json FROM resolved
            WHERE rtype <> 'Medication' AND patient IN (SELECT patient FROM known)),
        meds AS (SELECT file_id, ndjson, line_no, full_url, json, rid FROM resolved WHERE rtype = 'Medication'),
        refs AS (SELECT DISTINCT patient, file_id, ndjson, medref FROM resolved
            WHERE medref IS NOT NULL AND patient IN (SELECT patient FROM known)),
        by_id AS (SELECT r.patient, m.file_id, m.line_no, m.full_url, m.json FROM refs r JOIN meds m
            ON m.rid = nullif(regexp_extract(r.medref, {_literal(medication_pattern)}, 1), '')
            AND (m.file_id = r.file_id OR (m.ndjson AND r.ndjson))),
        by_url AS (SELECT r.patient, m.file_id, m.line_no, m.full_url, m.json FROM refs r JOIN meds m
            ON m.file_id = r.file_id AND m.full_url = r.medref),
        grouped AS (SELECT * FROM own UNION SELECT * FROM by_id UNION SELECT * FROM by_url)
    SELECT hash(patient) % {int(buckets)} AS bucket, patient, file_id, line_no, full_url, json FROM grouped"""


@dataclass(frozen=True)
class StageCounts:
    """What the stage found: patients with a Patient resource, their buckets, and resources kept per type."""

    patients: int
    buckets: int
    kept: dict[str, int]


def bucket_count(patients: int) -> int:
    """About 200 patients per bucket (the unit of work, of progress and of resuming), 16 to 4,096 buckets."""
    return max(16, min(4096, -(-patients // 200)))


def finish(stage: DuckStage, folder: Path) -> StageCounts:
    """Resolve patients, count the problems, and write ``folder/bucket=N/*.parquet`` plus ``problems.parquet``."""
    con = stage.con
    con.execute(_resolved_sql(stage))
    con.execute(
        "CREATE TABLE known AS SELECT DISTINCT patient FROM resolved WHERE rtype = 'Patient' AND patient IS NOT NULL"
    )
    con.execute(_PROBLEMS)
    found = con.execute("SELECT count(*) FROM known").fetchone()
    patients = int(found[0]) if found else 0
    buckets = bucket_count(patients)
    con.execute(_staged_sql(buckets, patient_reference_pattern("Medication", stage.inputs.bases)))
    folder.mkdir(parents=True)
    con.execute(f"COPY staged TO {_literal(str(folder / 'buckets'))} (FORMAT parquet, PARTITION_BY (bucket))")
    con.execute(f"COPY problems TO {_literal(str(folder / 'problems.parquet'))} (FORMAT parquet)")
    kept = dict(con.execute("SELECT rtype, count(*) FROM resolved GROUP BY rtype").fetchall())
    return StageCounts(patients, buckets, {str(k): int(v) for k, v in kept.items()})


@contextmanager
def staging_database(path: Path, threads: int, memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB database file for staging, spilling next to it, removed afterwards."""
    for leftover in (path, path.with_suffix(".wal"), path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    spill = path.with_name(path.name + ".tmp")
    con = duckdb.connect(str(path))
    try:
        con.execute(f"SET threads = {int(threads)}")
        con.execute(f"SET memory_limit = {_literal(memory_limit)}")
        con.execute(f"SET temp_directory = {_literal(str(spill))}")
        con.execute("SET preserve_insertion_order = true")
        yield con
    finally:
        con.close()
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)


__all__ = ["DuckStage", "staging_database"]
