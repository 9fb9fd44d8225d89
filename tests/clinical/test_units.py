"""UCUM conversions come from labs.yaml and round-trip; FHIR dates of every precision parse to aware datetimes."""

from __future__ import annotations

import datetime as dt

import pytest

from service.knowledge import load_knowledge
from service.units import convert, parse_instant, to_canonical, ucum_code

KNOWLEDGE = load_knowledge()
UNIT_CASES = [(a.id, unit, factor) for a in KNOWLEDGE.analytes.values() for unit, factor in a.units.items()]


@pytest.mark.parametrize(("analyte_id", "unit", "factor"), UNIT_CASES)
def test_every_unit_converts_by_its_factor(analyte_id: str, unit: str, factor: float) -> None:
    analyte = KNOWLEDGE.analyte(analyte_id)
    assert to_canonical(2.0, unit, analyte, KNOWLEDGE.unit_aliases) == pytest.approx(2.0 * factor)
    back = convert(2.0 * factor, analyte.canonical_unit, unit, analyte, KNOWLEDGE.unit_aliases)
    assert back == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("analyte_id", "value", "unit", "canonical"),
    [
        ("magnesium", 1.0, "mEq/L", 1.215),  # Mg 1 mEq/L = 0.5 mmol/L = 1.215 mg/dL (clinical-codes.md §1.3)
        ("magnesium", 0.5, "mmol/L", 1.2155),
        ("calcium_total", 2.0, "mmol/L", 8.016),
        ("calcium_ionised", 4.5, "mg/dL", 1.12275),
        ("lithium", 6.94, "ug/mL", 1.0),
        ("tsh", 2.5, "uIU/mL", 2.5),
        ("free_t4", 12.9, "pmol/L", 1.00233),
        ("albumin", 35, "g/L", 3.5),
        ("cholinesterase_plasma", 3.1, "U/mL", 3100),
    ],
)
def test_known_conversions(analyte_id: str, value: float, unit: str, canonical: float) -> None:
    got = to_canonical(value, unit, KNOWLEDGE.analyte(analyte_id), KNOWLEDGE.unit_aliases)
    assert got == pytest.approx(canonical, rel=1e-3)


def test_unknown_unit_is_not_guessed() -> None:
    assert to_canonical(1.0, "mg/L", KNOWLEDGE.analyte("magnesium"), KNOWLEDGE.unit_aliases) is None
    assert to_canonical(1.0, None, KNOWLEDGE.analyte("magnesium"), KNOWLEDGE.unit_aliases) is None
    assert to_canonical(1.0, "U/L", KNOWLEDGE.analyte("cholinesterase_rbc"), KNOWLEDGE.unit_aliases) is None


def test_quantity_code_wins_over_display_unit() -> None:
    assert ucum_code("meq/L", "mEq/L", KNOWLEDGE.unit_aliases) == "meq/L"
    assert ucum_code(None, "mIU/L", KNOWLEDGE.unit_aliases) == "m[IU]/L"
    assert ucum_code(None, None, KNOWLEDGE.unit_aliases) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-16T08:30:00Z", dt.datetime(2026, 11, 16, 8, 30, tzinfo=dt.UTC)),
        ("2026-11-16T10:30:00+02:00", dt.datetime(2026, 11, 16, 8, 30, tzinfo=dt.UTC)),
        ("2026-11-16T08:30:00", dt.datetime(2026, 11, 16, 8, 30, tzinfo=dt.UTC)),
        ("2026-11-16", dt.datetime(2026, 11, 16, tzinfo=dt.UTC)),
        ("2026-11", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("2026", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_instant(text: str | None, expected: dt.datetime | None) -> None:
    assert parse_instant(text) == expected
