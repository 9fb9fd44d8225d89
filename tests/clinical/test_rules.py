"""Rule edges, parametrised from the knowledge values (never re-typed numbers)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from service.facts import LabResult, MedicationUse, PatientFacts, UseStatus
from service.facts.units import to_canonical
from service.knowledge import Direction, ValueRange, load_knowledge
from service.rules.judge import classify, critical_direction
from service.rules.labs import corrected_calcium
from service.rules.medications import qualifying_uses

from .conftest import NOW

KNOWLEDGE = load_knowledge()
ALIASES = KNOWLEDGE.unit_aliases
EPSILON = 0.01


def result(analyte_id: str, value: float, unit: str | None = None, **changes: object) -> LabResult:
    """A LabResult in the analyte's canonical unit unless told otherwise."""
    analyte = KNOWLEDGE.analyte(analyte_id)
    unit = unit or analyte.canonical_unit
    base = LabResult(
        analyte=analyte_id,
        loinc=analyte.loinc[0],
        value=value,
        value_text=str(value),
        unit=unit,
        canonical=to_canonical(value, unit, analyte, ALIASES),
        effective=NOW - dt.timedelta(days=1),
        reference=ValueRange(),
        reference_unit=None,
        interpretation=(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


CRITICAL_LOW = [(a.id, a.critical_low) for a in KNOWLEDGE.analytes.values() if a.critical_low is not None]
CRITICAL_HIGH = [(a.id, a.critical_high) for a in KNOWLEDGE.analytes.values() if a.critical_high is not None]
FALLBACK_LOW = [(a.id, a.fallback_range.low) for a in KNOWLEDGE.analytes.values() if a.fallback_range.low is not None]


@pytest.mark.parametrize(("analyte_id", "threshold"), CRITICAL_LOW)
def test_critical_low_is_strictly_below(analyte_id: str, threshold: float) -> None:
    analyte = KNOWLEDGE.analyte(analyte_id)
    assert critical_direction(result(analyte_id, threshold - EPSILON), analyte) == Direction.LOW
    assert critical_direction(result(analyte_id, threshold), analyte) is None


@pytest.mark.parametrize(("analyte_id", "threshold"), CRITICAL_HIGH)
def test_critical_high_includes_the_threshold(analyte_id: str, threshold: float) -> None:
    analyte = KNOWLEDGE.analyte(analyte_id)
    assert critical_direction(result(analyte_id, threshold), analyte) == Direction.HIGH
    assert critical_direction(result(analyte_id, threshold - EPSILON), analyte) is None


def test_lithium_alert_at_the_threshold() -> None:
    analyte = KNOWLEDGE.analyte("lithium")
    assert analyte.alert_high is not None
    assert classify(result("lithium", analyte.alert_high), analyte, ALIASES) == Direction.HIGH
    assert classify(result("lithium", analyte.alert_high - EPSILON), analyte, ALIASES) is None


@pytest.mark.parametrize(("analyte_id", "low"), FALLBACK_LOW)
def test_fallback_low_edge(analyte_id: str, low: float) -> None:
    analyte = KNOWLEDGE.analyte(analyte_id)
    assert classify(result(analyte_id, low - EPSILON), analyte, ALIASES) == Direction.LOW
    at_low = classify(result(analyte_id, low), analyte, ALIASES)
    assert at_low is None or (analyte.critical_low is not None and low < analyte.critical_low)


def test_lab_range_beats_fallback_and_flag_beats_range() -> None:
    analyte = KNOWLEDGE.analyte("magnesium")
    low = analyte.fallback_range.low
    assert low is not None
    inside_lab_range = result("magnesium", low - EPSILON, reference=ValueRange(low=low - 0.2, high=low + 0.6))
    assert classify(inside_lab_range, analyte, ALIASES) is None
    flagged = replace(inside_lab_range, interpretation=("L",))
    assert classify(flagged, analyte, ALIASES) == Direction.LOW
    normal_flag = result("magnesium", low - EPSILON, interpretation=("N",))
    assert classify(normal_flag, analyte, ALIASES) is None


def test_lab_range_in_other_unit_is_converted() -> None:
    analyte = KNOWLEDGE.analyte("magnesium")
    value = result("magnesium", 0.6, "mmol/L", reference=ValueRange(low=1.7, high=2.4), reference_unit="mg/dL")
    assert classify(value, analyte, ALIASES) == Direction.LOW


def test_unconvertible_unit_uses_lab_range_only() -> None:
    analyte = KNOWLEDGE.analyte("cholinesterase_rbc")
    assert classify(result("cholinesterase_rbc", 5000, "U/L"), analyte, ALIASES) is None
    flagged = result("cholinesterase_rbc", 5000, "U/L", reference=ValueRange(low=7900, high=11900))
    assert classify(flagged, analyte, ALIASES) == Direction.LOW


@pytest.mark.parametrize("system", ["conventional", "si"])
def test_corrected_calcium_uses_the_knowledge_formula(system: str) -> None:
    formula = getattr(KNOWLEDGE.albumin_correction, system)
    albumin_value = formula.reference_albumin * 0.5
    total = result("calcium_total", 2.0 if system == "si" else 8.0, formula.calcium_unit)
    albumin = result("albumin", albumin_value, formula.albumin_unit)
    corrected = corrected_calcium(total, albumin, KNOWLEDGE)
    assert corrected is not None
    expected = total.value + formula.factor * (formula.reference_albumin - albumin_value)
    assert corrected.value == pytest.approx(round(expected, formula.decimals))
    assert corrected.unit == formula.calcium_unit
    assert corrected.interpretation == ()


def test_corrected_calcium_needs_albumin_within_the_gap() -> None:
    hours = KNOWLEDGE.albumin_correction.max_gap_hours
    total = result("calcium_total", 8.0)
    inside = result("albumin", 3.0, effective=total.effective - dt.timedelta(hours=hours))
    outside = result("albumin", 3.0, effective=total.effective - dt.timedelta(hours=hours, minutes=1))
    assert corrected_calcium(total, inside, KNOWLEDGE) is not None
    assert corrected_calcium(total, outside, KNOWLEDGE) is None


def facts_with(*uses: MedicationUse) -> PatientFacts:
    return PatientFacts(now=NOW, patient_id="p", labs={}, medications=uses, conditions=())


def use(group: str, status: UseStatus, start_days: float | None = None, end_days: float | None = None) -> MedicationUse:
    start = NOW - dt.timedelta(days=start_days) if start_days is not None else None
    end = NOW - dt.timedelta(days=end_days) if end_days is not None else None
    return MedicationUse(group, group, status, start, end, "MedicationStatement", "code")


def test_ppi_counts_only_after_the_minimum_duration() -> None:
    group = KNOWLEDGE.drug_group("ppi")
    days = group.min_duration_days
    assert days is not None
    assert qualifying_uses(facts_with(use("ppi", UseStatus.ACTIVE, days + 1)), group)
    assert not qualifying_uses(facts_with(use("ppi", UseStatus.ACTIVE, days - 1)), group)
    assert not qualifying_uses(facts_with(use("ppi", UseStatus.ACTIVE)), group)  # unknown start
    earlier = use("ppi", UseStatus.STOPPED, days + 30, days - 10)
    assert qualifying_uses(facts_with(earlier, use("ppi", UseStatus.ACTIVE, days - 10)), group)


def test_recently_stopped_antihistamine_window() -> None:
    group = KNOWLEDGE.drug_group("ethanolamine-antihistamine")
    days = group.recently_stopped_days
    assert days is not None
    assert qualifying_uses(facts_with(use(group.id, UseStatus.STOPPED, 300, days - 0.5)), group)
    assert not qualifying_uses(facts_with(use(group.id, UseStatus.STOPPED, 300, days + 0.5)), group)


def test_stopped_drugs_do_not_count_as_active() -> None:
    group = KNOWLEDGE.drug_group("beta2-agonist")
    assert not qualifying_uses(facts_with(use(group.id, UseStatus.STOPPED, 300, 1)), group)


def test_succinylcholine_only_when_recent() -> None:
    group = KNOWLEDGE.drug_group("succinylcholine")
    hours = group.recent_hours
    assert hours is not None
    assert qualifying_uses(facts_with(use(group.id, UseStatus.ADMINISTERED, (hours - 1) / 24)), group)
    assert not qualifying_uses(facts_with(use(group.id, UseStatus.ADMINISTERED, (hours + 1) / 24)), group)
