"""The screen runs over all 18 Synthea bundles without error (speed is shown by bench/, not asserted here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_hooks.response import check_response
from service.facts.records import build_record
from service.knowledge import Knowledge
from service.screen import screen_patient
from tests.synthea_data import read_bundle, synthea_paths

from .conftest import HOOK_INSTANCE, NOW

BUNDLES = synthea_paths()


def test_all_eighteen_bundles_are_there() -> None:
    assert len(BUNDLES) == 18


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem.split("_")[0])
def test_screen_runs_on_synthea(path: Path, knowledge: Knowledge) -> None:
    record = build_record([read_bundle(path)])
    result = screen_patient(record, now=NOW, hook_instance=HOOK_INSTANCE, knowledge=knowledge)
    check_response({"cards": [card.to_json() for card in result.cards]})
    assert len(result.cards) == len(result.rule_ids)
