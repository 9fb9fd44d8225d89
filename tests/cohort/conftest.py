"""Cohort runs shared by the tests: the repository's fixture folders screened as folders of Bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "patients"
SYNTHEA = ROOT / "fixtures" / "synthea-r4"
NOW = "2026-11-20T12:00:00+00:00"


def run_cli(*args: str) -> int:
    """``fasciculation-cds cohort …`` in process."""
    return main(["cohort", *args])


def responses(out: Path) -> dict[str, dict[str, Any]]:
    """The response lines of a finished run, by patient id."""
    lines = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    return {line["patient_id"]: line for line in lines}
