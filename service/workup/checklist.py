"""The work-up checklist: each lab of the work-up, done or what the card says about it, with the order it suggests.

Built from the work-up card's own computation (``service.rules.workup.workup_plan``): the labs the checklist shows
as not done are exactly those the card calls missing, stale, unreadable or due again (plus those another card of
the same screen offers, marked so on that card).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.cards import order_description
from service.facts import PatientFacts
from service.knowledge import Knowledge
from service.rules import text
from service.rules.workup import WorkupLab, workup_plan
from service.screen import workup_needs  # the needs the work-up card is built from


class LabState(StrEnum):
    """Where one work-up lab stands (the gaps are the card's own: ``service.rules.workup.Gap``)."""

    DONE = "done"
    STALE = "stale"
    MISSING = "missing"
    UNREADABLE = "unreadable"
    EARLY = "early"
    CONTRADICTED = "contradicted"
    BEFORE_ONSET = "before_onset"


@dataclass(frozen=True)
class ChecklistItem:
    """One lab of the work-up and what to do about it."""

    analyte_id: str
    display: str
    state: LabState
    detail: str
    reasons: tuple[str, ...]
    order: str | None  # "Order <display> (LOINC <code>)" when not done


def _item(facts: PatientFacts, knowledge: Knowledge, lab: WorkupLab) -> ChecklistItem:
    analyte = knowledge.analyte(lab.analyte_id)
    recent = facts.recent(lab.analyte_id, analyte.lookback_days)
    if lab.gap is not None or recent is None:
        state = LabState(lab.gap.value) if lab.gap else LabState.MISSING
        detail = lab.state_plain or knowledge.cards.phrases["no_result"]
        return ChecklistItem(lab.analyte_id, analyte.display, state, detail, lab.reasons, order_description(analyte))
    shown = text.quantity(recent.value_text, recent.unit, markdown=False)
    shown += knowledge.cards.phrases["preliminary_suffix"] if recent.preliminary else ""
    detail = f"{shown} on {text.date(recent.effective)} ({text.age(recent.effective, facts.now)})"
    return ChecklistItem(lab.analyte_id, analyte.display, LabState.DONE, detail, lab.reasons, None)


def checklist(facts: PatientFacts, knowledge: Knowledge, offered: frozenset[str] = frozenset()) -> list[ChecklistItem]:
    """Every lab of the work-up, in the card's order; ``offered``: labs the screen's other cards offer."""
    plan = workup_plan(facts, knowledge, workup_needs(facts, knowledge), offered)
    return [_item(facts, knowledge, lab) for lab in plan]
