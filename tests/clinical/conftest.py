"""Shared fixtures of the clinical tests: the packaged knowledge, the fixed NOW and scenario loading."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.facts.records import PatientRecord, build_record
from service.knowledge import KNOWLEDGE_DIR, Knowledge, load_knowledge
from service.screen import ScreenResult, screen_patient
from tests.conftest import HOOK_INSTANCE as HOOK_INSTANCE
from tests.conftest import NOW as NOW
from tests.conftest import ROOT as ROOT
from tests.synthea_data import SYNTHEA_DIR

SCENARIOS = ROOT / "fixtures" / "patients"
SYNTHEA = SYNTHEA_DIR


def scenario_names() -> list[str]:
    """Every committed scenario bundle."""
    return sorted(p.stem for p in SCENARIOS.glob("*.json"))


def load_record(name: str) -> PatientRecord:
    """The PatientRecord of one scenario."""
    return build_record([json.loads((SCENARIOS / f"{name}.json").read_text(encoding="utf-8"))])


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="session")
def screen(knowledge: Knowledge) -> Callable[..., ScreenResult]:
    def run(name: str, **kwargs: Any) -> ScreenResult:
        options = {"now": NOW, "hook_instance": HOOK_INSTANCE, "knowledge": knowledge, **kwargs}
        return screen_patient(load_record(name), **options)

    return run


@pytest.fixture()
def knowledge_copy(tmp_path: Path) -> Path:
    """A writable copy of the knowledge files, for tests of bad files."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target
