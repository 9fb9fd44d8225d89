"""UCUM unit normalisation and FHIR date parsing: the two conversions every lab fact needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from service.knowledge_model import Analyte

UCUM_SYSTEM = "http://unitsofmeasure.org"


def ucum_code(code: str | None, unit: str | None, aliases: Mapping[str, str]) -> str | None:
    """The UCUM code of a Quantity: its ``code`` when given, else its display ``unit`` mapped through aliases."""
    for candidate in (code, unit):
        if candidate:
            text = candidate.strip()
            return aliases.get(text, text)
    return None


def factor_to_canonical(unit: str | None, analyte: Analyte, aliases: Mapping[str, str]) -> float | None:
    """The factor taking ``unit`` to the analyte's canonical unit, or None when the unit is not convertible."""
    if unit is None:
        return None
    resolved = aliases.get(unit, unit)
    factor = analyte.units.get(resolved)
    if factor is None:
        lowered = {key.lower(): value for key, value in analyte.units.items()}
        factor = lowered.get(resolved.lower())
    return factor


def to_canonical(value: float, unit: str | None, analyte: Analyte, aliases: Mapping[str, str]) -> float | None:
    """``value`` in the analyte's canonical unit, or None when the unit is unknown."""
    factor = factor_to_canonical(unit, analyte, aliases)
    return None if factor is None else value * factor


def convert(value: float, from_unit: str, to_unit: str, analyte: Analyte, aliases: Mapping[str, str]) -> float | None:
    """``value`` from one unit to another through the canonical unit, or None when either is unknown."""
    there = factor_to_canonical(from_unit, analyte, aliases)
    back = factor_to_canonical(to_unit, analyte, aliases)
    if there is None or back is None:
        return None
    return value * there / back


def parse_instant(value: Any) -> dt.datetime | None:
    """A timezone-aware datetime from a FHIR date/dateTime/instant (partial dates start at their first moment)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if not isinstance(value, str) or len(value) < 4:
        return None
    text = value.strip()
    try:
        if len(text) == 4:
            return dt.datetime(int(text), 1, 1, tzinfo=dt.UTC)
        if len(text) == 7:
            return dt.datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
