"""PatientFacts built by hand for rule unit tests: results in the knowledge's canonical units, drug uses, conditions.

Numbers come from the knowledge (never re-typed), the clock is the fixtures' NOW.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from service.facts import LabResult, MedicationUse, PatientFacts, UseStatus
from service.facts.code_index import Confidence
from service.facts.conditions import ConditionFact
from service.facts.units import to_canonical
from service.knowledge import ConditionRole, ValueRange, load_knowledge
from tests.conftest import NOW

KNOWLEDGE = load_knowledge()


def days_ago(days: float) -> dt.datetime:
    """An instant ``days`` before NOW."""
    return NOW - dt.timedelta(days=days)


def lab(analyte_id: str, value: float, *, days: float = 1, unit: str | None = None) -> LabResult:
    """A final result of one analyte drawn ``days`` ago, in its canonical unit unless told otherwise."""
    analyte = KNOWLEDGE.analyte(analyte_id)
    unit = analyte.canonical_unit if unit is None else unit
    return LabResult(
        analyte=analyte_id,
        loinc=analyte.loinc[0],
        value=value,
        value_text=f"{value:g}",
        unit=unit,
        canonical=to_canonical(value, unit, analyte, KNOWLEDGE.unit_aliases),
        effective=days_ago(days),
        reference=ValueRange(),
        reference_unit=None,
        interpretation=(),
    )


def use(
    group: str,
    *,
    started: float | None = 60,
    ended: float | None = None,
    status: UseStatus = UseStatus.ACTIVE,
    regimen: str = "",
    name: str | None = None,
) -> MedicationUse:
    """A use of a drug group started ``started`` days ago (None: undated)."""
    return MedicationUse(
        group=group,
        name=name or KNOWLEDGE.drug_group(group).display,
        status=status,
        start=None if started is None else days_ago(started),
        end=None if ended is None else days_ago(ended),
        resource_type="MedicationRequest",
        confidence=Confidence.CODE,
        regimen=regimen,
    )


def condition(set_id: str, *, days: float | None = 30) -> ConditionFact:
    """A current condition of one knowledge set recorded ``days`` ago."""
    item = next(s for s in KNOWLEDGE.condition_sets if s.id == set_id)
    recorded = None if days is None else days_ago(days)
    return ConditionFact(set_id, ConditionRole(item.role), item.display, recorded, Confidence.CODE)


def patient(
    labs: Iterable[LabResult] = (), uses: Iterable[MedicationUse] = (), conditions: Iterable[ConditionFact] = ()
) -> PatientFacts:
    """One patient's facts at NOW (the latest result per analyte, as the facts edge keeps it)."""
    latest: dict[str, LabResult] = {}
    for result in labs:
        if result.analyte not in latest or result.effective > latest[result.analyte].effective:
            latest[result.analyte] = result
    return PatientFacts(now=NOW, patient_id="p1", labs=latest, medications=tuple(uses), conditions=tuple(conditions))
