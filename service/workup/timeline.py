"""Medication bars for the work-up view: each use of a culprit or electrolyte-wasting drug, start to stop."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.facts import MedicationUse, PatientFacts, UseStatus
from service.knowledge import Knowledge
from service.rules import text

# An administration is a moment; it is drawn as a one-day bar so that it can be seen on a two-year axis.
ADMINISTRATION_WIDTH = dt.timedelta(days=1)


@dataclass(frozen=True)
class MedicationBar:
    """One drug use on the time axis (clipped to the window); ``ongoing`` bars run to now."""

    name: str
    group: str
    kind: str
    start: dt.datetime
    end: dt.datetime
    ongoing: bool
    status_text: str
    source: str


def _status_text(use: MedicationUse, now: dt.datetime) -> str:
    if use.status == UseStatus.ACTIVE:
        return "ongoing" + (f" since {text.date(use.start)}" if use.start else " (start not recorded)")
    if use.status == UseStatus.ADMINISTERED:
        return f"given {text.date(use.start)}" if use.start else "given (date not recorded)"
    start = text.date(use.start) if use.start else "start not recorded"
    return f"{start} to {text.date(use.end)}" if use.end else f"{start}, stopped (stop date not recorded)"


def _bar(use: MedicationUse, knowledge: Knowledge, now: dt.datetime, since: dt.datetime) -> MedicationBar | None:
    group = knowledge.drug_group(use.group)
    start = use.start or since
    if use.status == UseStatus.ACTIVE:
        end, ongoing = now, True
    elif use.status == UseStatus.ADMINISTERED:
        end, ongoing = start + ADMINISTRATION_WIDTH, False
    else:
        end, ongoing = (use.end or start + ADMINISTRATION_WIDTH), False
    if end < since or start > now:
        return None
    return MedicationBar(
        name=use.name,
        group=group.display,
        kind=group.kind.value,
        start=max(start, since),
        end=min(end, now),
        ongoing=ongoing,
        status_text=_status_text(use, now),
        source=use.resource_type,
    )


def medication_bars(facts: PatientFacts, knowledge: Knowledge, since: dt.datetime) -> list[MedicationBar]:
    """Bars for every recorded use of a known drug group overlapping the window, earliest start first."""
    bars = [bar for use in facts.medications if (bar := _bar(use, knowledge, facts.now, since)) is not None]
    unique = {(b.name, b.group, b.start, b.end, b.ongoing): b for b in bars}
    return sorted(unique.values(), key=lambda b: (b.start, b.name))
