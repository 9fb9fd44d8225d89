"""UCUM conversions (ucumvert; molar mass and valence from labs.yaml) are right and never guessed; FHIR dates parse."""

from __future__ import annotations

import datetime as dt

import pytest

from service.facts.dates import parse_instant
from service.facts.units import convert, is_ucum, to_canonical, ucum_code
from service.knowledge import load_knowledge

KNOWLEDGE = load_knowledge()
ALIASES = KNOWLEDGE.unit_aliases


@pytest.mark.parametrize(
    ("analyte_id", "value", "unit", "canonical"),
    [
        ("magnesium", 1.0, "mEq/L", 1.215),  # Mg 1 mEq/L = 0.5 mmol/L = 1.215 mg/dL (clinical-codes.md §1.3)
        ("magnesium", 0.5, "mmol/L", 1.2155),
        ("magnesium", 18, "mg/L", 1.8),  # valid UCUM the old hand-written table did not know
        ("calcium_total", 2.0, "mmol/L", 8.016),
        ("calcium_total", 2.0, "meq/L", 4.008),  # divalent: 2 meq = 1 mmol
        ("calcium_ionised", 4.5, "mg/dL", 1.12275),
        ("lithium", 6.94, "ug/mL", 1.0),
        ("lithium", 1.0, "meq/L", 1.0),
        ("potassium", 3.0, "mEq/L", 3.0),
        ("potassium", 117.3, "mg/L", 3.0),
        ("sodium", 140, "meq/L", 140),
        ("phosphate", 1.0, "mmol/L", 3.097),
        ("phosphate", 10.0, "umol/mL", 30.97),
        ("tsh", 2.5, "uIU/mL", 2.5),
        ("tsh", 2.5, "u[IU]/mL", 2.5),
        ("tsh", 2.5, "\u00b5IU/mL", 2.5),  # micro sign
        ("tsh", 2.5, "\u03bcIU/mL", 2.5),  # Greek small mu
        ("tsh", 2.5, "mU/L", 2.5),  # TSH "mU/L" is milli-international units (analyte alias)
        ("tsh", 2.5, "mIU/L", 2.5),
        ("free_t4", 12.9, "pmol/L", 1.00233),
        ("free_t4", 10.0, "ng/L", 1.0),
        ("albumin", 35, "g/L", 3.5),
        ("cholinesterase_plasma", 3.1, "U/mL", 3100),
        ("cholinesterase_plasma", 3100, "IU/L", 3100),
        ("cholinesterase_plasma", 3.1, "kU/L", 3100),
    ],
)
def test_known_conversions(analyte_id: str, value: float, unit: str, canonical: float) -> None:
    got = to_canonical(value, unit, KNOWLEDGE.analyte(analyte_id), ALIASES)
    assert got == pytest.approx(canonical, rel=1e-3)


@pytest.mark.parametrize("analyte", sorted(KNOWLEDGE.analytes))
def test_canonical_unit_round_trips(analyte: str) -> None:
    item = KNOWLEDGE.analyte(analyte)
    assert to_canonical(2.0, item.canonical_unit, item, ALIASES) == pytest.approx(2.0)


def test_round_trip_through_another_unit() -> None:
    mg = KNOWLEDGE.analyte("magnesium")
    back = convert(convert(0.7, "mmol/L", "mg/dL", mg, ALIASES) or 0, "mg/dL", "mmol/L", mg, ALIASES)
    assert back == pytest.approx(0.7)


def test_unit_that_cannot_be_understood_is_not_guessed() -> None:
    assert to_canonical(1.0, "banana", KNOWLEDGE.analyte("magnesium"), ALIASES) is None
    assert to_canonical(1.0, None, KNOWLEDGE.analyte("magnesium"), ALIASES) is None
    assert to_canonical(1.0, "mmol", KNOWLEDGE.analyte("magnesium"), ALIASES) is None  # not a concentration
    assert to_canonical(1.0, "{titer}", KNOWLEDGE.analyte("magnesium"), ALIASES) is None  # annotation only
    assert to_canonical(1.0, "{ratio}", KNOWLEDGE.analyte("tsh"), ALIASES) is None
    # Activity per volume cannot become activity per gram of haemoglobin without the haemoglobin.
    assert to_canonical(1.0, "U/L", KNOWLEDGE.analyte("cholinesterase_rbc"), ALIASES) is None
    # TSH has no molar mass: a mass unit is not convertible and must not be guessed.
    assert to_canonical(1.0, "ng/mL", KNOWLEDGE.analyte("tsh"), ALIASES) is None


def test_quantity_code_wins_over_display_unit_when_it_is_ucum() -> None:
    assert ucum_code("meq/L", "mEq/L", ALIASES) == "meq/L"
    assert ucum_code("mEq/L", "mEq/L", ALIASES) == "meq/L"  # a non-UCUM code goes through the aliases
    assert ucum_code("not-ucum", "mg/dL", ALIASES) == "mg/dL"
    assert ucum_code(None, "mIU/L", ALIASES) == "m[IU]/L"
    assert ucum_code(None, None, ALIASES) is None


def test_every_alias_maps_to_valid_ucum() -> None:
    assert all(is_ucum(target) for target in ALIASES.values())
    assert not any(is_ucum(alias) for alias in ALIASES)  # the table holds only non-UCUM spellings


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
