"""The Spark engine: Spark reads and groups the export, and runs the same per-patient screen in its Python workers.

Reading, filtering and patient resolution are Spark SQL over the same declarations as the DuckDB stage
(``service.cohort.sources``); the staged buckets have the same layout, and ``groupBy(bucket).applyInPandas`` hands
each bucket to ``service.cohort.buckets.screen_bucket_rows``, which screens patient by patient with ``screen_group``.
``--master`` is ``local[*]`` or any cluster URL (``spark://…``, ``yarn``, ``k8s://…``); on a cluster the input and
``--out`` folders must be on a file system every executor sees (docs/cohort.md has a ``spark-submit`` recipe).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.cohort.duckdb_stage import StageCounts, bucket_count
from service.cohort.engine import RunSpec, quiet_worker_logs, screen_context
from service.cohort.progress import Progress
from service.cohort.sources import (
    FHIR_ID,
    LOINC_SYSTEM,
    NOT_A_BUNDLE,
    SCREEN_TYPES,
    SUBJECT_TYPES,
    FileKind,
    InputFile,
    Inputs,
    patient_reference_pattern,
    unreadable,
)

_RESOURCE = (
    "struct<resourceType:string,id:string,subject:struct<reference:string>,"
    "medicationReference:struct<reference:string>,code:struct<coding:array<struct<system:string,code:string>>>,"
    "category:array<struct<coding:array<struct<code:string>>>>>"
)
_BUNDLE = "struct<resourceType:string,entry:array<struct<fullUrl:string,resource:string>>>"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + value.replace("'", "\\'") + "'" for value in values)


class SparkEngine:
    """Apache Spark (PySpark), on ``local[*]`` or a cluster."""

    name = "spark"

    def __init__(self, master: str = "local[*]", workers: int = 2) -> None:
        from pyspark.sql import SparkSession  # the [spark] extra

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = SparkSession.builder.master(master).appName("fasciculation-cds cohort")
        self.spark = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(max(2, workers * 4)))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")

    def close(self) -> None:
        """Stop the Spark session (and its JVM gateway) once the run is over."""
        self.spark.stop()

    def _lines(self, inputs: Inputs, files: list[InputFile], problems: list[tuple[int, int | None, str]]) -> Any:
        """(file_id, line_no, full_url, j) for every NDJSON line and every Bundle entry, numbered from 1."""
        from pyspark.sql import functions as F

        frames = []
        schema = "file_id int, ndjson boolean, line_no long, full_url string, j string"
        for item in files:
            if item.kind == FileKind.NDJSON:  # numbered per file: zipWithIndex follows the file's order
                rdd = self.spark.sparkContext.textFile(str(item.path)).zipWithIndex()
                rows = rdd.map(_numbered(item.file_id))
                frames.append(self.spark.createDataFrame(rows, schema))
        bundles = [item for item in files if item.kind == FileKind.BUNDLE]
        if bundles:  # one read of every Bundle file, each file one row
            ids = self.spark.createDataFrame(
                [(i.path.resolve().as_uri(), i.file_id) for i in bundles], "uri string, fid int"
            )
            docs = self.spark.read.text([str(i.path) for i in bundles], wholetext=True)
            docs = docs.select(F.input_file_name().alias("uri"), F.from_json("value", _BUNDLE).alias("b"))
            entries = docs.where("b.resourceType = 'Bundle'").join(F.broadcast(ids), "uri").cache()
            read = {row[0] for row in entries.select("fid").distinct().collect()}
            problems += [(i.file_id, None, NOT_A_BUNDLE) for i in bundles if i.file_id not in read]
            entries = entries.select("fid", F.posexplode("b.entry").alias("pos", "e"))
            frames.append(
                entries.selectExpr(
                    "fid AS file_id",
                    "false AS ndjson",
                    "CAST(pos + 1 AS long) AS line_no",
                    "e.fullUrl AS full_url",
                    "e.resource AS j",
                )
            )
        if not frames:
            return self.spark.createDataFrame([], schema)
        lines = frames[0]
        for frame in frames[1:]:
            lines = lines.unionByName(frame)
        return lines.where("trim(j) <> ''")

    def stage(self, spec: RunSpec, inputs: Inputs, folder: Path, progress: Progress) -> StageCounts:
        """Read, filter, resolve and bucket with Spark SQL; the same files as the DuckDB stage writes."""
        folder.mkdir(parents=True)
        problems: list[tuple[int, int | None, str]] = [
            (item.file_id, None, reason) for item in inputs.files if (reason := unreadable(item))
        ]
        files = [item for item in inputs.files if item.file_id not in {p[0] for p in problems}]
        self._lines(inputs, files, problems).createOrReplaceTempView("lines")
        keep, codes = _quoted(SCREEN_TYPES), _quoted(spec.observations.loinc_codes)
        self.spark.sql(
            f"""SELECT file_id, ndjson, line_no, full_url, j AS json, r.resourceType AS rtype, r.id AS rid,
                r.subject.reference AS ref, r.medicationReference.reference AS medref, ok
            FROM (SELECT *, transform(filter(r.code.coding, c -> c.system = '{LOINC_SYSTEM}'), c -> c.code) AS loinc,
                  flatten(transform(r.category, c -> c.coding.code)) AS categories
                FROM (SELECT *, from_json(j, '{_RESOURCE}') AS r,
                      get_json_object(j, '$') IS NOT NULL AND ltrim(j) LIKE '{{%' AS ok FROM lines))
            WHERE NOT ok OR r.resourceType IS NULL OR (r.resourceType IN ({keep}) AND (r.resourceType <> 'Observation'
                OR arrays_overlap(coalesce(loinc, array()), array({codes}))
                OR array_contains(coalesce(categories, array()), '{spec.observations.category}')))"""
        ).createOrReplaceTempView("parsed")
        self.spark.sql("SELECT * FROM parsed WHERE ok AND rtype IS NOT NULL").createOrReplaceTempView("resources")
        self.spark.sql(_resolved(spec, inputs)).cache().createOrReplaceTempView("resolved")
        self.spark.sql(
            "SELECT DISTINCT patient FROM resolved WHERE rtype = 'Patient' AND patient IS NOT NULL"
        ).cache().createOrReplaceTempView("known")
        patients = self.spark.table("known").count()
        buckets = bucket_count(patients)
        staged = self.spark.sql(_staged(buckets, patient_reference_pattern("Medication", inputs.bases)))
        staged.write.partitionBy("bucket").parquet(str(folder / "buckets"))
        driver = self.spark.createDataFrame(problems, "file_id int, line_no long, problem string")
        self.spark.sql(_PROBLEMS).unionByName(driver).coalesce(1).write.parquet(str(folder / "problems.parquet"))
        kept = {row[0]: int(row[1]) for row in self.spark.sql(_KEPT).collect()}
        return StageCounts(int(patients), buckets, kept)

    def screen(self, spec: RunSpec, todo: list[Path], results: Path, progress: Progress) -> None:
        """``groupBy(bucket).applyInPandas``: each bucket screened in a Python worker into its results file."""
        if not todo:
            return
        base = str(todo[0].parent)
        frame = self.spark.read.option("basePath", base).parquet(*(str(path) for path in todo))
        screener = bucket_screener(spec.now, spec.link_url, str(results))
        done = frame.groupBy("bucket").applyInPandas(screener, "bucket int, patients long, with_cards long")
        for row in done.toLocalIterator():
            progress.advance(int(row["patients"]))


def _numbered(file_id: int) -> Callable[[tuple[str, int]], tuple[int, bool, int, None, str]]:
    """(line, index) -> a ``lines`` row of NDJSON file ``file_id``, numbered from 1."""
    return lambda pair: (file_id, True, pair[1] + 1, None, pair[0])


def _resolved(spec: RunSpec, inputs: Inputs) -> str:
    pattern = patient_reference_pattern("Patient", inputs.bases).replace("\\", "\\\\")
    return f"""
    WITH bundle_patients AS (SELECT DISTINCT file_id, full_url, rid AS bundle_rid FROM resources
        WHERE rtype = 'Patient' AND full_url IS NOT NULL AND rid RLIKE '^{FHIR_ID}$')
    SELECT r.file_id, r.ndjson, r.line_no, r.full_url, r.json, r.rtype, r.rid, r.ref, r.medref,
        CASE WHEN r.rtype = 'Patient' THEN CASE WHEN r.rid RLIKE '^{FHIR_ID}$' THEN r.rid END
             WHEN r.rtype IN ({_quoted(SUBJECT_TYPES)}) THEN coalesce(b.bundle_rid,
                 nullif(regexp_extract(r.ref, '{pattern}', 1), '')) END AS patient
    FROM resources r LEFT JOIN bundle_patients b ON b.file_id = r.file_id AND b.full_url = r.ref"""


_KEPT = "SELECT rtype, count(*) FROM resolved GROUP BY rtype"
_PROBLEMS = """
SELECT file_id, line_no, CASE WHEN get_json_object(json, '$') IS NOT NULL AND ltrim(json) LIKE '{%'
    THEN 'no resourceType' ELSE 'not a JSON object' END AS problem FROM parsed WHERE NOT ok OR rtype IS NULL
UNION ALL SELECT file_id, line_no, 'Patient without a valid id' FROM resolved
    WHERE rtype = 'Patient' AND patient IS NULL
UNION ALL SELECT file_id, line_no, CASE WHEN ref IS NULL THEN concat(rtype, ' without a subject reference')
    ELSE concat(rtype, ' whose subject is not a Patient of this export') END
    FROM resolved WHERE rtype <> 'Patient' AND rtype <> 'Medication' AND patient IS NULL
UNION ALL SELECT file_id, line_no, concat(rtype, ' of a patient whose Patient resource is not in the export')
    FROM resolved WHERE rtype <> 'Patient' AND rtype <> 'Medication' AND patient IS NOT NULL
    AND patient NOT IN (SELECT patient FROM known)"""


def _staged(buckets: int, medication_pattern: str) -> str:
    pattern = medication_pattern.replace("\\", "\\\\")
    return f"""
    WITH own AS (SELECT patient, file_id, line_no, full_url, json FROM resolved
            WHERE rtype <> 'Medication' AND patient IN (SELECT patient FROM known)),
        meds AS (SELECT file_id, ndjson, line_no, full_url, json, rid FROM resolved WHERE rtype = 'Medication'),
        refs AS (SELECT DISTINCT patient, file_id, ndjson, medref FROM resolved
            WHERE medref IS NOT NULL AND patient IN (SELECT patient FROM known)),
        by_id AS (SELECT r.patient, m.file_id, m.line_no, m.full_url, m.json FROM refs r JOIN meds m
            ON m.rid = nullif(regexp_extract(r.medref, '{pattern}', 1), '')
            AND (m.file_id = r.file_id OR (m.ndjson AND r.ndjson))),
        by_url AS (SELECT r.patient, m.file_id, m.line_no, m.full_url, m.json FROM refs r JOIN meds m
            ON m.file_id = r.file_id AND m.full_url = r.medref),
        grouped AS (SELECT * FROM own UNION SELECT * FROM by_id UNION SELECT * FROM by_url)
    SELECT CAST(pmod(hash(patient), {int(buckets)}) AS int) AS bucket, patient, file_id, line_no, full_url, json
    FROM grouped"""


def _empty_stage(spark: Any, folder: Path) -> StageCounts:
    (folder / "buckets").mkdir()
    spark.createDataFrame([], "file_id int, line_no long, problem string").write.parquet(
        str(folder / "problems.parquet")
    )
    return StageCounts(0, bucket_count(0), {})


_CONTEXTS: dict[tuple[str, str | None], Any] = {}


def bucket_screener(now: dt.datetime, link_url: str | None, results: str) -> Callable[[Any], Any]:
    """The pandas function Spark runs per bucket (in its Python workers): screen, write the results file, count."""
    moment = now.isoformat()

    def screen(frame: Any) -> Any:
        import pandas as pd
        import pyarrow as pa

        from service.cohort.buckets import STAGE_COLUMNS, screen_table

        key = (moment, link_url)
        if key not in _CONTEXTS:
            quiet_worker_logs()
            _CONTEXTS[key] = screen_context(dt.datetime.fromisoformat(moment), link_url)
        bucket = int(frame["bucket"].iloc[0])
        table = pa.Table.from_pandas(frame[STAGE_COLUMNS], preserve_index=False)
        done = screen_table(table, Path(results) / f"bucket={bucket}.parquet", _CONTEXTS[key])
        return pd.DataFrame({"bucket": [bucket], "patients": [done.patients], "with_cards": [done.with_cards]})

    return screen
