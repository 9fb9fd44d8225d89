"""Judging one lab result: the lab's own flag, then its range, then the knowledge fall-back (labs.yaml).

A flag that reads the value opposite to the lab's own range (Mg 5.0 mg/dL, range 1.7-2.4, flagged L: issue 23
row 14; or flagged N outside it) does not decide: the value against the range given does, and the card names the
contradiction. A flag on a value inside the range still stands (it may be the lab's own narrower cut-off). A flag is
the laboratory's reading of the value; when the two disagree one of them is wrong (a transcription, a flag set for
another analyte), so the screen says so instead of trusting either silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.facts import LabResult
from service.facts.units import convert
from service.knowledge import Analyte, Direction, Knowledge, ValueRange
from service.rules import text

LOW_CODES = frozenset({"L", "LL", "LU", "<"})
HIGH_CODES = frozenset({"H", "HH", "HU", ">"})


@dataclass(frozen=True)
class Contradiction:
    """The lab's flag and where the value lies against the lab's own range, when they disagree."""

    flag: str  # "low" | "high" | "normal"
    by_value: Direction | None  # None: within the range
    bounds: ValueRange


def _flagged(codes: set[str]) -> str | None:
    if codes & LOW_CODES or "LL" in codes:
        return "low"
    if codes & HIGH_CODES or "HH" in codes:
        return "high"
    return "normal" if "N" in codes else None


def contradiction(result: LabResult, analyte: Analyte, aliases: Mapping[str, str]) -> Contradiction | None:
    """The disagreement between the lab's flag and the value against the lab's own range, if any."""
    flag = _flagged(set(result.interpretation))
    bounds = _lab_bounds(result, analyte, aliases) if flag else None
    if flag is None or bounds is None:
        return None
    by_value = _compare(result.value, bounds)
    # Opposite readings only: a flag on a value inside the range may be the lab's own narrower cut-off (it stands).
    opposite = {"low": by_value == Direction.HIGH, "high": by_value == Direction.LOW, "normal": by_value is not None}
    return Contradiction(flag, by_value, bounds) if opposite[flag] else None


def _compare(value: float, bounds: ValueRange) -> Direction | None:
    if bounds.low is not None and value < bounds.low:
        return Direction.LOW
    if bounds.high is not None and value > bounds.high:
        return Direction.HIGH
    return None


def _lab_bounds(result: LabResult, analyte: Analyte, aliases: Mapping[str, str]) -> ValueRange | None:
    """The lab's own range in the result's unit, when it sent a usable one."""
    ref = result.reference
    if ref.low is None and ref.high is None:
        return None
    if result.reference_unit in (None, result.unit):
        return ref
    if result.unit is None or result.reference_unit is None:
        return None
    low = convert(ref.low, result.reference_unit, result.unit, analyte, aliases) if ref.low is not None else None
    high = convert(ref.high, result.reference_unit, result.unit, analyte, aliases) if ref.high is not None else None
    return None if low is None and high is None else ValueRange(low=low, high=high)


def critical_direction(result: LabResult, analyte: Analyte) -> Direction | None:
    """Critical by knowledge threshold (canonical unit) or by the lab's LL/HH flag."""
    value = result.canonical
    if value is not None and analyte.critical_low is not None and value < analyte.critical_low:
        return Direction.LOW
    if value is not None and analyte.critical_high is not None and value >= analyte.critical_high:
        return Direction.HIGH
    if contradiction(result, analyte, {}) is not None:
        return None  # a critical flag the value contradicts against the lab's range does not decide
    if "LL" in result.interpretation:
        return Direction.LOW
    return Direction.HIGH if "HH" in result.interpretation else None


def classify(result: LabResult, analyte: Analyte, aliases: Mapping[str, str]) -> Direction | None:
    """Low, high or None (normal or not judgeable); knowledge critical and alert thresholds always count."""
    critical = critical_direction(result, analyte)
    if critical is not None:
        return critical
    if result.canonical is not None and analyte.alert_high is not None and result.canonical >= analyte.alert_high:
        return Direction.HIGH
    disagreement = contradiction(result, analyte, aliases)
    if disagreement is not None:
        return disagreement.by_value  # the value against the lab's own range decides
    codes = set(result.interpretation)
    if codes & LOW_CODES:
        return Direction.LOW
    if codes & HIGH_CODES:
        return Direction.HIGH
    if "N" in codes:
        return None
    bounds = _lab_bounds(result, analyte, aliases)
    if bounds is not None:
        return _compare(result.value, bounds)
    return None if result.canonical is None else _compare(result.canonical, analyte.fallback_range)


def contradiction_words(result: LabResult, found: Contradiction) -> str:
    """'flagged low by the laboratory, but 5.0 mg/dL is above its range 1.7-2.4 mg/dL' (cards.yaml phrase)."""
    position = {Direction.LOW: "below", Direction.HIGH: "above", None: "within"}[found.by_value]
    low, high = found.bounds.low, found.bounds.high
    bounds = f"{'–' if low is None else text.number(low)}–{'–' if high is None else text.number(high)}"
    shown = text.quantity(result.value_text, result.unit)
    return f"flagged {found.flag} by the laboratory, but {shown} is {position} its range {bounds}"


def lab_notes(result: LabResult, knowledge: Knowledge) -> tuple[str, ...]:
    """What limits the confidence of one result: preliminary, a unit not read, a flag the value contradicts."""
    phrases = knowledge.cards.phrases
    notes = [phrases["preliminary_note"]] if result.preliminary else []
    notes += [phrases["unit_unknown_note"]] if not result.unit_understood else []
    found = contradiction(result, knowledge.analyte(result.analyte), knowledge.unit_aliases)
    if found is not None:
        notes.append(phrases["flag_contradiction_note"].format(words=contradiction_words(result, found)))
    return tuple(notes)
