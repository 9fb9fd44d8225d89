"""Common provokers of twitching (issue 25 item 8): caffeine, stress, poor sleep, strenuous exercise, a recent viral
illness (blexrud-fasciculations-1993, cuni-fasciculations-review).

They are named low-key, as one note on the work-up card, and only when no red flag is on record: a provoker never
reads as a reassurance, never makes a card of its own and never stands beside signs that need a neurologist.
"""

from __future__ import annotations

import datetime as dt

from service.facts import PatientFacts
from service.knowledge import ConditionRole, Knowledge
from service.rules.conditions import condition_line
from service.rules.findings import Finding


def provoking_note(facts: PatientFacts, knowledge: Knowledge) -> str | None:
    """The provokers on record, recent (conditions.yaml ``provoking.recent_days``) or undated, as one sentence."""
    if knowledge.provoking is None:
        return None
    since = facts.now - dt.timedelta(days=knowledge.provoking.recent_days)
    items = [
        condition_line(item, knowledge)
        for item in facts.conditions_with(ConditionRole.PROVOKING)
        if item.recorded is None or since <= item.recorded <= facts.now
    ]
    return knowledge.cards.phrases["provoking_note"].format(items="; ".join(items)) if items else None


def with_provoking_note(
    workup: Finding, red_flag: Finding | None, facts: PatientFacts, knowledge: Knowledge
) -> Finding:
    """The work-up finding with the provokers' note, unless a red flag is on record."""
    note = provoking_note(facts, knowledge) if red_flag is None else None
    return workup.with_notes(note) if note else workup
