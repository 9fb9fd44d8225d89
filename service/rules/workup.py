"""Missing or stale labs: one work-up finding listing every lab to order (info; never a reason to speak alone)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.facts import PatientFacts
from service.knowledge import WORKUP_RULE, Knowledge, Workup
from service.rules import text
from service.rules.findings import Category, Finding, Indicator
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


def _state(facts: PatientFacts, knowledge: Knowledge, analyte_id: str, markdown: bool = True) -> tuple[str, Gap] | None:
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
        if recent.unit_understood:
            return None
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
