"""The screen runs over all 18 Synthea bundles without error, within the speed target (<= 3x json.loads)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cds_hooks.response import check_response
from service.knowledge import Knowledge
from service.records import build_record
from service.screen import screen_patient

from .conftest import HOOK_INSTANCE, NOW, SYNTHEA

BUNDLES = sorted(SYNTHEA.glob("*.json"))
SPEED_FACTOR = 3.0


def test_all_eighteen_bundles_are_there() -> None:
    assert len(BUNDLES) == 18


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem.split("_")[0])
def test_screen_runs_on_synthea(path: Path, knowledge: Knowledge) -> None:
    record = build_record([json.loads(path.read_bytes())])
    result = screen_patient(record, now=NOW, hook_instance=HOOK_INSTANCE, knowledge=knowledge)
    check_response({"cards": result.cards})
    assert len(result.cards) == len(result.rule_ids)


def test_screen_time_within_three_times_json_parsing(knowledge: Knowledge) -> None:
    raw = [path.read_bytes() for path in BUNDLES]
    records = [build_record([json.loads(data)]) for data in raw]
    screen_patient(records[0], now=NOW, hook_instance=HOOK_INSTANCE, knowledge=knowledge)  # warm caches
    started = time.perf_counter()
    for data in raw:
        json.loads(data)
    parse = time.perf_counter() - started
    started = time.perf_counter()
    for record in records:
        screen_patient(record, now=NOW, hook_instance=HOOK_INSTANCE, knowledge=knowledge)
    screen = time.perf_counter() - started
    assert screen <= SPEED_FACTOR * parse, f"screen {screen:.3f}s vs json.loads {parse:.3f}s"
