"""What every cohort engine offers (one small interface) and what a run hands it."""

from __future__ import annotations

import datetime as dt
import gc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from service.cohort.duckdb_stage import StageCounts
from service.cohort.progress import Progress
from service.cohort.screening import ScreenContext
from service.cohort.sources import Inputs, ObservationFilter
from service.knowledge import load_knowledge


@dataclass(frozen=True)
class RunSpec:
    """The instant every patient is screened at, the work-up link on the cards, and the Observations read."""

    now: dt.datetime
    link_url: str | None
    observations: ObservationFilter


class Engine(Protocol):
    """Reads and groups an export into patient buckets, then screens buckets into results files."""

    name: str

    def stage(self, spec: RunSpec, inputs: Inputs, folder: Path, progress: Progress) -> StageCounts:
        """Write ``folder/buckets/bucket=N/`` (patient, file_id, line_no, full_url, json) and ``problems.parquet``."""
        ...

    def screen(self, spec: RunSpec, todo: list[Path], results: Path, progress: Progress) -> None:
        """Screen each staged bucket of ``todo`` into ``results/<bucket name>.parquet``."""
        ...

    def close(self) -> None:
        """Release what the engine holds (Spark's session)."""
        ...


def screen_context(now: dt.datetime, link_url: str | None) -> ScreenContext:
    """The knowledge (loaded and validated, as the app loads it) with the run's instant and link.

    Start-up objects are then frozen out of the cyclic GC, as ``serve``'s workers do (service/server.py): full
    collections walk only the patients' own objects.
    """
    context = ScreenContext(load_knowledge(), now, link_url)
    gc.freeze()
    return context


def quiet_worker_logs() -> None:
    """Workers tally skipped resources into the results instead of logging one line per patient."""
    logging.getLogger("service.facts.skip_log").setLevel(logging.ERROR)
