"""A cohort run: source -> staged patient buckets -> the screen per bucket -> worklist, responses, errors, summary.

The run keeps its state in ``OUT/.cohort/``: ``run.json`` (the instant and input it screens), ``stage/`` (renamed into
place once complete) and ``results/bucket=N.parquet`` (each renamed into place when its bucket is done). ``--resume``
reuses all three, so an interrupted run redoes neither the reading nor a finished bucket.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from service.cohort.duckdb_stage import StageCounts
from service.cohort.engine import Engine, RunSpec
from service.cohort.errors import CohortError
from service.cohort.outputs import (
    replaced,
    result_files,
    worklist_table,
    write_errors,
    write_responses,
    write_worklist,
)
from service.cohort.progress import Progress
from service.cohort.sources import Inputs, discover, observation_filter, server_errors
from service.cohort.summary import write_summary
from service.config import load_settings
from service.knowledge import load_knowledge
from service.workup.app import load_workup_settings
from service.workup.links import launch_url

STATE = ".cohort"
EXIT_OK = 0
EXIT_UNREADABLE = 3  # the run finished, but some input could not be read (errors.csv says what)


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run counted (no ids)."""

    patients: int
    with_cards: int
    problems: int
    out: Path

    @property
    def exit_status(self) -> int:
        """0 when everything was read, EXIT_UNREADABLE otherwise."""
        return EXIT_OK if self.problems == 0 else EXIT_UNREADABLE


def _run_state(state: Path, source: str, engine: str, now: dt.datetime | None, resume: bool) -> dt.datetime:
    """The run's instant: from ``run.json`` on resume (checked against the arguments), else new state."""
    path = state / "run.json"
    if resume and path.is_file():
        saved = orjson.loads(path.read_bytes())
        saved_now = dt.datetime.fromisoformat(saved["now"])
        if saved["source"] != source or (now is not None and now != saved_now):
            raise CohortError("--resume: this output folder holds a run of another input or instant")
        return saved_now
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    moment = now or dt.datetime.now(dt.UTC)
    with replaced(path) as handle:
        handle.write(orjson.dumps({"source": source, "engine": engine, "now": moment.isoformat()}))
    return moment


def _link_url() -> str | None:
    """The work-up link the cards carry, as ``evaluate`` puts it (CDS_PUBLIC_URL, else the default address)."""
    return launch_url(load_settings().public_url) if load_workup_settings().links else None


def _stage(engine: Engine, spec: RunSpec, inputs: Inputs, state: Path, progress: Progress) -> StageCounts:
    """The staged buckets: reused when complete, else written under a temporary name and renamed."""
    done, counts_path = state / "stage", state / "stage" / "counts.json"
    if counts_path.is_file():
        saved = orjson.loads(counts_path.read_bytes())
        return StageCounts(saved["patients"], saved["buckets"], saved["kept"])
    partial = state / "stage.partial"
    shutil.rmtree(partial, ignore_errors=True)
    counts = engine.stage(spec, inputs, partial, progress)
    document = {"patients": counts.patients, "buckets": counts.buckets, "kept": counts.kept}
    (partial / "counts.json").write_bytes(orjson.dumps(document))
    os.replace(partial, done)
    return counts


def _problems(inputs: Inputs, stage: Path) -> list[tuple[str, int | None, str]]:
    table = pq.read_table(stage / "problems.parquet")
    rows = zip(*(table.column(name).to_pylist() for name in ("file_id", "line_no", "problem")), strict=True)
    found = [(inputs.relative(file_id), line, problem) for file_id, line, problem in rows]
    return [*found, *server_errors(inputs.folder)]


def run_cohort(
    folder: Path, out: Path, engine: Engine, *, now: dt.datetime | None = None, resume: bool = False, source: str = ""
) -> RunOutcome:
    """Screen every patient of the export in ``folder`` and write the outputs into ``out``."""
    if not folder.is_dir():
        raise CohortError(f"input folder {folder} does not exist")
    state = out / STATE
    moment = _run_state(state, source or str(folder.resolve()), engine.name, now, resume)
    spec = RunSpec(moment, _link_url(), observation_filter(load_knowledge()))
    inputs = discover(folder)
    progress = Progress(0)
    progress.note(f"{len(inputs.files)} files to read with the {engine.name} engine")
    counts = _stage(engine, spec, inputs, state, progress)
    results = state / "results"
    results.mkdir(exist_ok=True)
    buckets = sorted(path for path in (state / "stage" / "buckets").glob("bucket=*") if path.is_dir())
    todo = [path for path in buckets if not (results / f"{path.name}.parquet").is_file()]
    finished = sum(pq.read_metadata(results / f"{p.name}.parquet").num_rows for p in buckets if p not in todo)
    progress = Progress(counts.patients - finished)
    progress.note(f"{counts.patients} patients in {len(buckets)} buckets; {finished} patients already screened")
    engine.screen(spec, todo, results, progress)
    progress.close()
    return _write_outputs(inputs, state, out, counts, progress)


def _write_outputs(inputs: Inputs, state: Path, out: Path, counts: StageCounts, progress: Progress) -> RunOutcome:
    files = result_files(state / "results")
    worklist = worklist_table(files)
    write_worklist(worklist, out)
    write_responses(files, out)
    problems = _problems(inputs, state / "stage")
    write_errors(problems, out)
    write_summary(files, problems, counts, out)
    progress.note(f"wrote {out}: {worklist.num_rows} patients with cards, {len(problems)} data problems")
    return RunOutcome(counts.patients, worklist.num_rows, len(problems), out)
