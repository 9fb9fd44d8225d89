"""The work-up checklist: each lab the screen wants, done / stale / missing, with the order the card suggests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.cards import order_description
from service.facts import PatientFacts
from service.knowledge import Knowledge
from service.rules import text
from service.rules.workup import wanted_labs  # the work-up rule's own list: one source of truth
from service.screen import workup_needs  # the needs the work-up card is built from


class LabState(StrEnum):
    """Where one work-up lab stands."""

    DONE = "done"
    STALE = "stale"
    MISSING = "missing"


@dataclass(frozen=True)
class ChecklistItem:
    """One lab of the work-up and what to do about it."""

    analyte_id: str
    display: str
    state: LabState
    detail: str
    reasons: tuple[str, ...]
    order: str | None  # "Order <display> (LOINC <code>)" when not done


def _item(facts: PatientFacts, knowledge: Knowledge, analyte_id: str, reasons: Sequence[str]) -> ChecklistItem:
    analyte = knowledge.analyte(analyte_id)
    latest = facts.latest(analyte_id)
    recent = facts.recent(analyte_id, analyte.lookback_days)
    order = order_description(analyte)
    if recent is not None:
        shown = text.quantity(recent.value_text, recent.unit, markdown=False)
        detail = f"{shown} on {text.date(recent.effective)} ({text.age(recent.effective, facts.now)})"
        return ChecklistItem(analyte_id, analyte.display, LabState.DONE, detail, tuple(reasons), None)
    if latest is None:
        detail = knowledge.cards.phrases["no_result"]
        return ChecklistItem(analyte_id, analyte.display, LabState.MISSING, detail, tuple(reasons), order)
    detail = knowledge.cards.phrases["stale_result"].format(
        value=text.quantity(latest.value_text, latest.unit, markdown=False),
        age=text.age(latest.effective, facts.now),
        days=analyte.lookback_days,
    )
    return ChecklistItem(analyte_id, analyte.display, LabState.STALE, detail, tuple(reasons), order)


def checklist(facts: PatientFacts, knowledge: Knowledge) -> list[ChecklistItem]:
    """Every lab the work-up rule asks for (core labs plus drug and condition needs), in knowledge order."""
    wanted = wanted_labs(facts, knowledge, workup_needs(facts, knowledge))
    return [_item(facts, knowledge, lab, wanted[lab]) for lab in knowledge.analytes if lab in wanted]
