"""Timing rules (issue 15): a lab drawn before a drug's steady state, and a culprit's start against the twitching.

Both are knowledge data (medications.yaml ``steady_state`` and ``onset_lead``); neither speaks by itself: the first
makes a lab due (work-up card) or qualifies an abnormal one, the second weighs a culprit drug already on a card.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from service.facts import LabResult, MedicationUse, PatientFacts, UseStatus
from service.knowledge import Knowledge
from service.rules import text
from service.rules.findings import Finding


@dataclass(frozen=True)
class EarlyDraw:
    """A result drawn before the steady state of a drug start or dose change."""

    use: MedicationUse
    change: dt.datetime
    started: bool  # True: the drug was started; False: its product or dose changed
    days: int  # from the change to the draw
    window: int


def _last_change(uses: list[MedicationUse]) -> tuple[MedicationUse, bool] | None:
    """The newest dated record that started the drug or changed its regimen, and whether it was the start."""
    dated = sorted((u for u in uses if u.start is not None), key=lambda u: u.start or dt.datetime.min)
    if not dated:
        return None
    change, started = dated[0], True
    for before, after in zip(dated, dated[1:], strict=False):
        if after.regimen != before.regimen:
            change, started = after, False
    return change, started


def early_draw(facts: PatientFacts, knowledge: Knowledge, result: LabResult) -> EarlyDraw | None:
    """A result not yet at steady state (levothyroxine-tsh-timing: TSH under 6 weeks after a start or dose change).

    Levothyroxine's half-life is about a week, so a new dose reaches steady state after about 6 weeks; a TSH drawn
    earlier (or before the change) does not reflect the current dose and is due again.
    """
    for rule in knowledge.steady_state:
        if rule.lab != result.analyte:
            continue
        uses = list(facts.uses_of(rule.group))
        if not any(u.status == UseStatus.ACTIVE for u in uses):
            continue
        last = _last_change(uses)
        if last is None or last[0].start is None:
            continue
        use, started = last
        assert use.start is not None
        days = (result.effective - use.start).days
        if dt.timedelta(0) <= result.effective - use.start < dt.timedelta(days=rule.days):
            return EarlyDraw(use, use.start, started, days, rule.days)
    return None


def early_words(early: EarlyDraw, knowledge: Knowledge) -> dict[str, str]:
    """The placeholders the early-draw phrases share."""
    phrases = knowledge.cards.phrases
    return {
        "days": str(early.days),
        "drug": text.record(early.use.name),
        "change": phrases["change_started" if early.started else "change_changed"],
        "date": text.date(early.change),
        "window": str(early.window),
    }


def early_note(early: EarlyDraw, knowledge: Knowledge, lab: str) -> str:
    """'TSH drawn 20 days after Levothyroxine was started on ...: not yet at steady state ...'."""
    due = text.date(early.change + dt.timedelta(days=early.window))
    return knowledge.cards.phrases["early_note"].format(lab=lab, due=due, **early_words(early, knowledge))


GAP_IN_USE = dt.timedelta(days=30)  # records closer than this (renewals, refills) are one continuous course


def course_start(uses: tuple[MedicationUse, ...]) -> dt.datetime | None:
    """When the current course began: back from the newest record through renewals that follow on without a gap."""
    dated = sorted((u for u in uses if u.start is not None), key=lambda u: u.start or dt.datetime.min, reverse=True)
    if not dated:
        return None
    start = dated[0].start
    for older in dated[1:]:
        if start is not None and (older.end is None or older.end >= start - GAP_IN_USE):
            start = older.start
    return start


def with_onset_lead(finding: Finding, group: str, facts: PatientFacts, knowledge: Knowledge) -> Finding:
    """A direct culprit weighed by its start against the twitching's first record (who-umc-causality).

    A drug started shortly before the twitching has a plausible time relationship and is named a stronger lead;
    one taken for years before it is named a weaker lead (medications.yaml onset_lead windows). The course is
    followed back through renewals, so a prescription renewed last week is not mistaken for a new drug.
    """
    onset, lead, start = facts.onset(), knowledge.onset_lead, course_start(facts.uses_of(group))
    if onset is None or lead is None or start is None or start > onset:
        return finding
    phrases, days = knowledge.cards.phrases, (onset - start).days
    if days <= lead.recent_days:
        note = phrases["lead_recent_note"].format(days=days, onset=text.date(onset))
        suffix = phrases["lead_recent_suffix"].format(days=days)
        return replace(finding.with_summary(suffix=suffix), notes=(note, *finding.notes))
    if days > lead.long_standing_days:
        years = text.age(start, onset).removesuffix(" ago")
        note = phrases["lead_long_note"].format(date=text.date(start), years=years, onset=text.date(onset))
        return finding.with_notes(note)
    return finding
