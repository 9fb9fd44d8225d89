"""Medication bars for the work-up view: each use of a drug that bears on the work-up, start to stop, and its role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.facts import MedicationUse, PatientFacts, UseStatus
from service.knowledge import DrugKind, Knowledge
from service.rules import text

# An administration is a moment; it is drawn as a one-day bar so that it can be seen on a two-year axis.
ADMINISTRATION_WIDTH = dt.timedelta(days=1)
# What each drug kind is to the screen, as medications.yaml and the rules read it: "culprit" only for the kinds the
# rules name as a cause of fasciculations (direct culprits and lithium); an interacting drug (an NSAID, ACE inhibitor,
# ARB) only raises a lithium level, so it is named as such, and as without effect when no lithium is on record.
ROLES = {
    DrugKind.LITHIUM: "culprit (lithium toxicity)",
    DrugKind.DIRECT: "culprit (can cause fasciculations)",
    DrugKind.ELECTROLYTE: "can lower magnesium, calcium or potassium",
    DrugKind.THYROID: "acts on the thyroid",
    DrugKind.NUTRIENT: "can lower vitamin B12",
}
INTERACTING_ROLE = "raises the lithium level"
INTERACTING_ROLE_NO_LITHIUM = "raises lithium levels; no lithium on record, so not a culprit here"


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
    role: str = ""
    group_id: str = ""
    started: dt.datetime | None = None  # the recorded start, when inside the window (not the clipped bar start)
    stopped: dt.datetime | None = None  # the recorded stop of a stopped use, when inside the window
    dose: str = ""  # the first dose quantity as recorded ("" when none)
    regimen: str = ""  # product codes and dose (service.facts.medications.regimen_key): a change is a dose change


def _status_text(use: MedicationUse, now: dt.datetime) -> str:
    if use.status == UseStatus.ACTIVE:
        return "ongoing" + (f" since {text.date(use.start)}" if use.start else " (start not recorded)")
    if use.status == UseStatus.ADMINISTERED:
        return f"given {text.date(use.start)}" if use.start else "given (date not recorded)"
    start = text.date(use.start) if use.start else "start not recorded"
    return f"{start} to {text.date(use.end)}" if use.end else f"{start}, stopped (stop date not recorded)"


def _role(kind: DrugKind, lithium_on_record: bool) -> str:
    if kind == DrugKind.INTERACTING:
        return INTERACTING_ROLE if lithium_on_record else INTERACTING_ROLE_NO_LITHIUM
    return ROLES.get(kind, "")


def _bar(
    use: MedicationUse, knowledge: Knowledge, now: dt.datetime, since: dt.datetime, lithium: bool
) -> MedicationBar | None:
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
        role=_role(group.kind, lithium),
        group_id=group.id,
        dose=use.regimen.rpartition("@")[2] if "@" in use.regimen else "",
        regimen=use.regimen,
        started=use.start if use.start and since <= use.start <= now else None,
        stopped=use.end if use.status == UseStatus.STOPPED and use.end and since <= use.end <= now else None,
    )


def medication_bars(facts: PatientFacts, knowledge: Knowledge, since: dt.datetime) -> list[MedicationBar]:
    """Bars for every recorded use of a known drug group overlapping the window, earliest start first."""
    lithium = any(knowledge.drug_group(use.group).kind == DrugKind.LITHIUM for use in facts.medications)
    uses = facts.medications
    bars = [bar for use in uses if (bar := _bar(use, knowledge, facts.now, since, lithium)) is not None]
    unique = {(b.name, b.group, b.start, b.end, b.ongoing): b for b in bars}
    return sorted(unique.values(), key=lambda b: (b.start, b.name))
