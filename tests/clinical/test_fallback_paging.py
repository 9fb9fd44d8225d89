"""The labs paging test of the FHIR fall-back: it says "enough" only when no later page can change a result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.facts.fallback_paging import labs_pages_enough
from service.knowledge import load_knowledge

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KNOWLEDGE = load_knowledge()


def _lab(loinc: str, unit: str, value: float, days: float, **extra: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": (NOW - timedelta(days=days)).isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        **extra,
    }
    return {"resource": resource}


def every_analyte(days: float) -> list[dict[str, Any]]:
    """One result of every analyte, newest first, a minute apart, starting ``days`` ago."""
    return [
        _lab(a.loinc[0], a.canonical_unit, a.fallback_range.low or 1.0, days + i / 1440)
        for i, a in enumerate(KNOWLEDGE.analytes.values())
    ]


def test_enough_once_every_analyte_has_a_newer_result_than_the_oldest_entry() -> None:
    """Every analyte measured, then an older entry read: later pages are older still."""
    enough = labs_pages_enough(KNOWLEDGE)
    first = every_analyte(2)
    assert not enough(first)  # the last entry is itself a chosen result: the next page may share its instant
    assert enough([*first, *every_analyte(40)[:1]])


def test_not_enough_while_an_analyte_has_no_result() -> None:
    """One analyte missing: its newest result may be on any later page."""
    enough = labs_pages_enough(KNOWLEDGE)
    assert not enough([*every_analyte(2)[1:], *every_analyte(40)[1:]])


def test_not_enough_when_the_server_ignored_the_sort() -> None:
    """Entries out of newest-first order: the server's order cannot be trusted, so every page is read."""
    enough = labs_pages_enough(KNOWLEDGE)
    assert not enough([*every_analyte(40)[:1], *every_analyte(2), *every_analyte(50)[:1]])


def test_not_enough_when_a_date_is_partial_or_a_period() -> None:
    """A date the server may order differently from the screen (a day only, a period) keeps paging."""
    enough = labs_pages_enough(KNOWLEDGE)
    later = every_analyte(40)[:1]
    day_only = {"resource": {**later[0]["resource"], "effectiveDateTime": "2026-01-01"}}
    assert not enough([*every_analyte(2), day_only])
    period = {"resource": {**later[0]["resource"], "effectivePeriod": {"start": "2026-01-01T00:00:00Z"}}}
    assert not enough([*every_analyte(2), period])


def test_not_enough_when_a_newest_result_is_unusable() -> None:
    """An analyte whose only result has no value has no usable result: its next one may be on a later page."""
    enough = labs_pages_enough(KNOWLEDGE)
    entries = every_analyte(2)
    entries[0] = {"resource": {k: v for k, v in entries[0]["resource"].items() if k != "valueQuantity"}}
    assert not enough([*entries, *every_analyte(40)[1:2]])


def test_not_enough_when_the_server_ignored_the_patient() -> None:
    """Entries of two subjects (a server ignoring patient=): the other patient's results must not end the paging."""
    enough = labs_pages_enough(KNOWLEDGE)
    own = [{"resource": {**e["resource"], "subject": {"reference": "Patient/p1"}}} for e in every_analyte(2)]
    older = [{"resource": {**e["resource"], "subject": {"reference": "Patient/p1"}}} for e in every_analyte(40)[:1]]
    assert enough([*own, *older])
    other = {"resource": {**every_analyte(1)[0]["resource"], "subject": {"reference": "Patient/p2"}}}
    assert not enough([other, *own, *older])
