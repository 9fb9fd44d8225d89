"""PatientFacts: the typed snapshot of one patient the rules read, built from a PatientRecord in one pass."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.facts.conditions import ConditionFact, current_conditions
from service.facts.labs import LabResult, latest_labs
from service.facts.medications import MedicationUse, medication_uses
from service.facts.records import PatientRecord
from service.facts.signs import observed_signs
from service.knowledge.models import ConditionRole

if TYPE_CHECKING:
    from service.knowledge import Knowledge


@dataclass(frozen=True)
class PatientFacts:
    """A typed snapshot of one patient at ``now``."""

    now: dt.datetime
    patient_id: str | None
    labs: Mapping[str, LabResult]
    medications: tuple[MedicationUse, ...]
    conditions: tuple[ConditionFact, ...]
    exam_findings_read: bool = True  # False: signs charted only on examination could not be read
    foreign_left_out: int = 0  # resources of another patient left out of this call (service.facts.ownership)

    def latest(self, analyte: str) -> LabResult | None:
        """The latest valid result of an analyte, however old."""
        return self.labs.get(analyte)

    def recent(self, analyte: str, days: int) -> LabResult | None:
        """The latest valid result when drawn within ``days`` of now."""
        result = self.labs.get(analyte)
        if result is None or self.now - result.effective > dt.timedelta(days=days):
            return None
        return result

    def conditions_with(self, role: ConditionRole) -> tuple[ConditionFact, ...]:
        """Current conditions of one role."""
        return tuple(item for item in self.conditions if item.role == role)

    def onset(self) -> dt.datetime | None:
        """When the twitching was first recorded: the earliest dated fasciculation (Condition or exam finding)."""
        dates = [item.recorded for item in self.conditions_with(ConditionRole.TRIGGER) if item.recorded]
        return min(dates) if dates else None

    def pregnant(self) -> bool:
        """Whether a current pregnancy is on record (Condition or pregnancy status Observation)."""
        return bool(self.conditions_with(ConditionRole.PREGNANCY))

    def uses_of(self, group: str) -> tuple[MedicationUse, ...]:
        """Medication uses of one drug group."""
        return self._uses_by_group.get(group, ())

    @functools.cached_property
    def _uses_by_group(self) -> dict[str, tuple[MedicationUse, ...]]:
        """Uses by drug group, in record order (built once: the rules ask for every group, several times)."""
        grouped: dict[str, list[MedicationUse]] = {}
        for use in self.medications:
            grouped.setdefault(use.group, []).append(use)
        return {group: tuple(uses) for group, uses in grouped.items()}


def build_facts(
    record: PatientRecord, *, now: dt.datetime, knowledge: Knowledge, signed_orders: tuple[MedicationUse, ...] = ()
) -> PatientFacts:
    """Everything the rules read about one patient; ``signed_orders``: draft orders as the uses they become."""
    return PatientFacts(
        now=now,
        patient_id=record.patient_id,
        labs=latest_labs(record.observations, knowledge),
        medications=tuple(medication_uses(record, knowledge, signed_orders)),
        conditions=(
            *current_conditions(record.conditions, knowledge),
            *observed_signs(record.observations, knowledge, now),  # exam findings count like Conditions
        ),
        exam_findings_read=record.exam_findings_read,
        foreign_left_out=record.foreign_left_out,
    )
