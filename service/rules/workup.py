"""Missing or stale labs: one work-up finding listing every lab to order (info; never a reason to speak alone)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.facts import LabResult, PatientFacts
from service.knowledge import WORKUP_RULE, Knowledge, Workup
from service.rules import text
from service.rules.findings import Category, Finding, Indicator
from service.rules.judge import classify, contradiction, contradiction_words
from service.rules.timing import early_draw, early_words


def wanted_labs(facts: PatientFacts, knowledge: Knowledge, needs: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Core labs plus labs that drugs or conditions call for, each with its reasons (labs.yaml families)."""
    wanted: dict[str, list[str]] = {a.id: [] for a in knowledge.analytes.values() if a.workup == Workup.CORE}
    for need, reasons in needs.items():
        family = knowledge.family_of(need)
        lab = family.order_as if family else need  # total Ca (with albumin) answers a calcium need
        wanted.setdefault(lab, []).extend(r for r in reasons if r not in wanted.get(lab, []))
    for family in knowledge.families:
        answer = facts.recent(family.answered_by, knowledge.analyte(family.answered_by).lookback_days)
        # A laboratory-reported corrected calcium answers as the ionised one does (labs.yaml families, issue 25).
        others = [facts.recent(lab, knowledge.analyte(lab).lookback_days) for lab in family.also_answered_by]
        if any(result is not None and result.unit_understood for result in (answer, *others)):
            for lab in (*family.labs, *family.answers_also):
                wanted.pop(lab, None)
        elif answer is not None:
            wanted.setdefault(family.answered_by, [])  # shown as present but not understood, and offered again
    return wanted


class Gap(StrEnum):
    """Why a lab is offered again (its words: the cards.yaml phrase ``gap_<value>``)."""

    MISSING = "missing"
    STALE = "stale"
    UNREADABLE = "unreadable"
    EARLY = "early"  # drawn before a drug's steady state (medications.yaml steady_state): due again
    CONTRADICTED = "contradicted"  # the lab's flag and the value against its range disagree (issue 23 row 14)
    BEFORE_ONSET = "before_onset"  # a normal result from before the twitching began (labs.yaml onset_timing)


State = tuple[str, Gap]  # a lab's state text and why it is offered


def _state(facts: PatientFacts, knowledge: Knowledge, analyte_id: str, markdown: bool = True) -> State | None:
    """(text, gap) for a lab without a usable recent result, or None when it has one (values escaped for Markdown)."""
    analyte = knowledge.analyte(analyte_id)
    phrases = knowledge.cards.phrases
    recent = facts.recent(analyte_id, analyte.lookback_days)
    if recent is not None:
        early = early_draw(facts, knowledge, recent) if recent.unit_understood else None
        if early is not None:  # levothyroxine-tsh-timing: not yet at steady state, so the lab is due again
            shown = text.quantity(recent.value_text, recent.unit, markdown=markdown)
            words = early_words(early, knowledge)
            age = text.age(recent.effective, facts.now)
            return phrases["early_result"].format(value=shown, age=age, **words), Gap.EARLY
        found = contradiction(recent, analyte, knowledge.unit_aliases) if recent.unit_understood else None
        if found is not None:  # neither the flag nor the value can be trusted alone: shown, and offered again
            said, when = contradiction_words(recent, found), text.age(recent.effective, facts.now)
            return phrases["flag_contradicted"].format(words=said, age=when), Gap.CONTRADICTED
        if recent.unit_understood:
            return _before_onset(facts, knowledge, analyte_id, recent, markdown)
        # Never dropped silently: the value is shown, but it cannot be judged, so the lab is offered again.
        shown = text.quantity(recent.value_text, recent.unit or "(no unit)", markdown=markdown)
        return phrases["unit_unknown"].format(value=shown, age=text.age(recent.effective, facts.now)), Gap.UNREADABLE
    latest = facts.latest(analyte_id)
    if latest is None:
        return phrases["no_result"], Gap.MISSING
    shown = text.quantity(latest.value_text, latest.unit, markdown=markdown)
    age = text.age(latest.effective, facts.now)
    return phrases["stale_result"].format(value=shown, age=age, days=analyte.lookback_days), Gap.STALE


@dataclass(frozen=True)
class WorkupLab:
    """One lab of the work-up: why it is wanted and, when it has no usable recent result, what the card says."""

    analyte_id: str
    reasons: tuple[str, ...]
    gap: Gap | None  # None: a usable recent result (done)
    state_text: str | None  # the card's words for the gap (record values escaped for Markdown)
    state_plain: str | None  # the same words as plain text, for the HTML work-up page
    offered_elsewhere: bool = False  # another card offers this lab (lithium's TSH): the work-up card leaves it out


def workup_plan(
    facts: PatientFacts,
    knowledge: Knowledge,
    needs: Mapping[str, Sequence[str]],
    offered: frozenset[str] = frozenset(),
) -> tuple[WorkupLab, ...]:
    """Every lab of the work-up, in knowledge order: the one computation the card and the checklist both show.

    Wanted labs (core, drug and condition needs) come first; the bundled labs join when the card has a gap to
    offer, with their own gap. ``offered``: labs another card already offers, marked, never offered twice.
    """
    wanted = wanted_labs(facts, knowledge, needs)
    plan = [_lab(facts, knowledge, lab, wanted[lab], lab in offered) for lab in knowledge.analytes if lab in wanted]
    if any(item.gap and not item.offered_elsewhere for item in plan):
        for analyte in knowledge.analytes.values():
            if analyte.workup == Workup.BUNDLED and analyte.id not in offered and analyte.id not in wanted:
                item = _lab(facts, knowledge, analyte.id, [], False)
                plan += [item] if item.gap else []
    return tuple(plan)


def _lab(facts: PatientFacts, knowledge: Knowledge, lab: str, reasons: Sequence[str], elsewhere: bool) -> WorkupLab:
    state = _state(facts, knowledge, lab)
    text_, gap = state if state else (None, None)
    plain = _state(facts, knowledge, lab, markdown=False) if state else None
    return WorkupLab(lab, tuple(reasons), gap, text_, plain[0] if plain else None, elsewhere)


def drawn_before_onset(facts: PatientFacts, knowledge: Knowledge, result: LabResult) -> int | None:
    """Days a result was drawn before the twitching was first recorded, beyond the grace (labs.yaml onset_timing)."""
    onset, timing = facts.onset(), knowledge.onset_timing
    if onset is None or timing is None or result.effective >= onset - dt.timedelta(days=timing.grace_days):
        return None
    return (onset - result.effective).days


def _before_onset(
    facts: PatientFacts, knowledge: Knowledge, analyte_id: str, recent: LabResult, markdown: bool
) -> State | None:
    """A normal result drawn before the twitching began does not answer it: shown, and offered again (issue 25).

    An abnormal one is left to its own card (a low magnesium before the twitching is still a lead).
    """
    days = drawn_before_onset(facts, knowledge, recent)
    analyte = knowledge.analyte(analyte_id)
    if days is None or classify(recent, analyte, knowledge.unit_aliases) is not None:
        return None
    onset = facts.onset()
    assert onset is not None  # drawn_before_onset found one
    shown, age = text.quantity(recent.value_text, recent.unit, markdown=markdown), text.age(recent.effective, facts.now)
    phrase = knowledge.cards.phrases["before_onset_result"]
    return phrase.format(value=shown, age=age, days=days, date=text.date(onset)), Gap.BEFORE_ONSET


def workup_finding(
    facts: PatientFacts,
    knowledge: Knowledge,
    needs: Mapping[str, Sequence[str]],
    offered: frozenset[str] = frozenset(),
) -> Finding | None:
    """The labs to order before new twitching is put down to progression (clinical-codes.md §4.3 tier A).

    ``offered``: labs another card already offers (lithium's TSH and calcium), not offered twice.
    """
    gaps = [item for item in workup_plan(facts, knowledge, needs, offered) if item.gap and not item.offered_elsewhere]
    if not gaps:
        return None
    lines = []
    for item in gaps:
        because = f" ({', '.join(item.reasons)})" if item.reasons else ""
        lines.append(f"{knowledge.analyte(item.analyte_id).display}: {item.state_text}{because}")
    parts = []
    for gap in Gap:
        labs = [knowledge.analyte(item.analyte_id).short for item in gaps if item.gap == gap]
        parts += [f"{', '.join(labs)} {knowledge.cards.phrases[f'gap_{gap.value}']}"] if labs else []
    return Finding(
        rule_id=WORKUP_RULE,
        category=Category.WORKUP,
        indicator=Indicator.INFO,
        summary={"labs": "; ".join(parts)},
        facts=tuple(lines),
        orders=tuple(item.analyte_id for item in gaps),
        reversible=False,
    )
