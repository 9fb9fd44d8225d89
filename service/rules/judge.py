"""Judging one lab result: the lab's own flag, then its range, then the knowledge fall-back (labs.yaml)."""

from __future__ import annotations

from collections.abc import Mapping

from service.facts import LabResult
from service.facts.units import convert
from service.knowledge import Analyte, Direction, Knowledge, ValueRange

LOW_CODES = frozenset({"L", "LL", "LU", "<"})
HIGH_CODES = frozenset({"H", "HH", "HU", ">"})


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


def lab_notes(result: LabResult, knowledge: Knowledge) -> tuple[str, ...]:
    """What limits the confidence of one result: a preliminary status, a unit that could not be read."""
    phrases = knowledge.cards.phrases
    notes = [phrases["preliminary_note"]] if result.preliminary else []
    return (*notes, *([phrases["unit_unknown_note"]] if not result.unit_understood else []))
