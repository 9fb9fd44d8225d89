"""Golden cards: the exact JSON of a few scenarios, so any wording or structure change is a reviewed diff.

Regenerate after an intended change with:
    UPDATE_GOLDEN=1 .venv/bin/pytest tests/clinical/test_golden.py
then review ``git diff tests/clinical/golden``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from service.screen import ScreenResult

GOLDEN = Path(__file__).resolve().parent / "golden"
SCENARIOS = [
    "magnesium_first",
    "calcium_low_corrected",
    "fasciculation_missing_labs",
    "lithium_toxic",
    "red_flags",
    # issue 11: the safety review's wording, reviewed card by card
    "als_succinylcholine",
    "thyroid_low_tsh_low_ft4",
    "unit_not_understood",
    "red_flags_low_magnesium",
    "calcium_uncorrected",
    # issue 25: data shapes (a blood gas component)
    "blood_gas_ionised_calcium_low",
    # issue 25: high calcium with PTH, on lithium
    "hypercalcaemia_lithium",
]


@pytest.mark.parametrize("name", SCENARIOS)
def test_golden_cards(screen: Callable[..., ScreenResult], name: str) -> None:
    cards = [card.to_json() for card in screen(name).cards]
    path = GOLDEN / f"{name}.json"
    rendered = json.dumps(cards, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(rendered)
