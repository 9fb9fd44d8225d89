"""The embedded engine: DuckDB stages the export into patient buckets, a pool of worker processes screens them."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from service.cohort.buckets import BucketDone, screen_bucket
from service.cohort.duckdb_stage import DuckStage, StageCounts, finish, staging_database
from service.cohort.engine import RunSpec, quiet_worker_logs, screen_context
from service.cohort.progress import Progress
from service.cohort.screening import ScreenContext
from service.cohort.sources import Inputs

_CONTEXT: ScreenContext | None = None


def _start_worker(now: dt.datetime, link_url: str | None) -> None:
    """Worker start-up: load the knowledge once per process."""
    global _CONTEXT
    quiet_worker_logs()
    _CONTEXT = screen_context(now, link_url)


def _screen(source: Path, target: Path) -> BucketDone:
    assert _CONTEXT is not None, "worker not started"
    return screen_bucket(source, target, _CONTEXT)


class EmbeddedEngine:
    """DuckDB on this machine (out of core) and ``workers`` screen processes."""

    name = "embedded"

    def __init__(self, workers: int, memory_limit: str = "2GB") -> None:
        self.workers = max(1, workers)
        self.memory_limit = memory_limit

    def close(self) -> None:
        """Nothing outlives a run: the pool and DuckDB are closed as each step ends."""

    def stage(self, spec: RunSpec, inputs: Inputs, folder: Path, progress: Progress) -> StageCounts:
        """Read every file with DuckDB and write the patient buckets into ``folder``."""
        with staging_database(folder.with_name(folder.name + ".duckdb"), self.workers, self.memory_limit) as con:
            stage = DuckStage(con, inputs, spec.observations)
            for index, item in enumerate(inputs.files, start=1):
                stage.load(item)
                if index % 50 == 0:
                    progress.note(f"read {index}/{len(inputs.files)} files")
            progress.note(f"read {len(inputs.files)} files; grouping by patient")
            return finish(stage, folder)

    def screen(self, spec: RunSpec, todo: list[Path], results: Path, progress: Progress) -> None:
        """Screen the buckets in ``todo`` in the worker pool, each into ``results/<bucket>.parquet``."""
        spawn = multiprocessing.get_context("spawn")  # no fork of a process that ran DuckDB's threads
        args = (spec.now, spec.link_url)
        with ProcessPoolExecutor(self.workers, mp_context=spawn, initializer=_start_worker, initargs=args) as pool:
            pending: set[Future[BucketDone]] = set()
            queue = list(todo)
            while queue or pending:
                while queue and len(pending) < self.workers * 2:
                    source = queue.pop(0)
                    pending.add(pool.submit(_screen, source, results / f"{source.name}.parquet"))
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    progress.advance(future.result().patients)
