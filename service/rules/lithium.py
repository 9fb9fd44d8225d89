"""Lithium: a high level is the finding; otherwise a fresh level is due, and the card says why (issue 15).

A level no longer answers when it predates a drug that raises lithium (thiazide, ACE inhibitor, ARB, NSAID) or a
lithium start or dose change, or was drawn before steady state; reduced renal function and lithium's own monitoring
(TSH, calcium) are named on the same card (medications.yaml ``lithium_context``; dailymed-lithium).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.facts import ConditionFact, LabResult, MedicationUse, PatientFacts
from service.knowledge import LITHIUM_TOXIC_RULE, ConditionRole, Direction, Knowledge
from service.rules import text
from service.rules.conditions import condition_line
from service.rules.findings import Category, Finding, Indicator
from service.rules.judge import classify, critical_direction, lab_notes
from service.rules.medications import qualifying_uses, use_line


@dataclass(frozen=True)
class LithiumContext:
    """What bears on the lithium level: reasons it is due, card lines, notes and labs to offer."""

    reasons: tuple[str, ...]
    lines: tuple[str, ...]
    notes: tuple[str, ...]
    orders: tuple[str, ...]
    renal_reduced: bool = False  # a renal lab flagged, or AKI / dehydration / CKD on record (issue 25)


def _interacting_uses(facts: PatientFacts, knowledge: Knowledge) -> list[tuple[MedicationUse, str]]:
    """Current uses of drugs that raise lithium levels, each with its group id (australian-prescriber-lithium)."""
    found = []
    for group_id in knowledge.lithium_context.interacting_groups:
        group = knowledge.drug_group(group_id)
        found += [(use, group.id) for use in qualifying_uses(facts, group)]
    return found


def _changes(facts: PatientFacts, knowledge: Knowledge) -> list[tuple[dt.datetime, str]]:
    """Lithium starts and dose changes (each new lithium order or statement), and interacting-drug starts."""
    phrases = knowledge.cards.phrases
    lithium = sorted(u.start for u in facts.uses_of("lithium") if u.start is not None)
    names = [phrases["lithium_event_start"], *[phrases["lithium_event_change"]] * (len(lithium) - 1)]
    events = list(zip(lithium, names, strict=True))
    events += [(u.start, text.record(u.name)) for u, _ in _interacting_uses(facts, knowledge) if u.start is not None]
    return events


def due_reasons(facts: PatientFacts, knowledge: Knowledge, level: LabResult | None) -> tuple[str, ...]:
    """Why the latest level no longer answers: it predates a change, or was drawn before steady state.

    Thiazides raise lithium within days, NSAIDs, ACE inhibitors and ARBs over days to weeks (bpac-lithium-2007); the
    label asks for levels twice weekly after a change until stable, about 5 days (dailymed-lithium).
    """
    if level is None:
        return ()
    phrases, steady = knowledge.cards.phrases, dt.timedelta(days=knowledge.lithium_context.steady_state_days)
    reasons = []
    for when, event in sorted(_changes(facts, knowledge), key=lambda item: item[0]):
        if when > level.effective and when <= facts.now:
            reasons.append(phrases["lithium_due_predates"].format(event=event, date=text.date(when)))
        elif dt.timedelta(0) <= level.effective - when < steady:
            days = (level.effective - when).days
            reasons.append(phrases["lithium_due_not_steady"].format(event=event, date=text.date(when), days=days))
    reasons += _condition_reasons(facts, knowledge, level)
    return tuple(dict.fromkeys(reasons))


def _raising_conditions(facts: PatientFacts, knowledge: Knowledge) -> list[ConditionFact]:
    """AKI, dehydration and CKD on record: they lower lithium clearance (medications.yaml raising_conditions)."""
    wanted = set(knowledge.lithium_context.raising_conditions)
    return [item for item in facts.conditions if item.set_id in wanted]


def _condition_reasons(facts: PatientFacts, knowledge: Knowledge, level: LabResult) -> list[str]:
    """A level drawn before AKI, dehydration or CKD was recorded no longer answers (dailymed-lithium)."""
    phrase = knowledge.cards.phrases["lithium_due_condition"]
    return [
        phrase.format(event=item.name)
        for item in _raising_conditions(facts, knowledge)
        if item.recorded is not None and level.effective < item.recorded <= facts.now
    ]


def _renal_labs(facts: PatientFacts, knowledge: Knowledge) -> tuple[tuple[str, ...], bool, tuple[str, ...]]:
    """Renal function lines, whether one is reduced (reduced clearance raises lithium), or the lab to order."""
    labs = knowledge.lithium_context.renal_labs  # lab -> the direction that means reduced renal function
    results = [(knowledge.analyte(lab), facts.recent(lab, knowledge.analyte(lab).lookback_days)) for lab in labs]
    present = [(analyte, result) for analyte, result in results if result is not None]
    if not present:
        return (), False, tuple(labs)[:1]
    lines, reduced = [], False
    for analyte, result in present:
        direction = classify(result, analyte, knowledge.unit_aliases)
        reduced |= direction is not None and direction == labs[analyte.id]
        lines.append(text.lab_line(analyte.display, result.value_text, result, facts.now, flag=direction or ""))
    return tuple(lines), reduced, ()


def _renal(facts: PatientFacts, knowledge: Knowledge) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Renal lines and notes: a reduced renal lab, and AKI, dehydration or CKD on record (issue 25), or the lab to
    order when none is recent."""
    lines, reduced, orders = _renal_labs(facts, knowledge)
    phrases = knowledge.cards.phrases
    notes = [phrases["lithium_renal_note"]] if reduced else []
    conditions = _raising_conditions(facts, knowledge)
    if conditions:
        items = "; ".join(condition_line(item, knowledge) for item in conditions)
        notes.append(phrases["lithium_conditions_note"].format(items=items))
    if _renal_labs_predate(facts, knowledge, conditions):
        orders = tuple(knowledge.lithium_context.renal_labs)[:1]  # renal function again, after the AKI/dehydration
    return lines, tuple(notes), orders


def _renal_labs_predate(facts: PatientFacts, knowledge: Knowledge, conditions: list[ConditionFact]) -> bool:
    """Whether a raising condition was recorded after the newest renal lab (so renal function is asked again)."""
    labs = knowledge.lithium_context.renal_labs
    times = [r.effective for lab in labs if (r := facts.recent(lab, knowledge.analyte(lab).lookback_days))]
    recorded = [item.recorded for item in conditions if item.recorded is not None and item.recorded <= facts.now]
    return bool(times and recorded) and max(recorded) > max(times)


def _monitoring(facts: PatientFacts, knowledge: Knowledge) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """TSH and calcium: lithium causes hypothyroidism and hyperparathyroidism (dailymed-lithium, clinical-codes)."""
    context = knowledge.lithium_context
    missing = [
        lab
        for lab in context.monitoring_labs
        if not any(facts.recent(item, context.monitoring_days) for item in knowledge.same_question(lab))
    ]
    if not missing:
        return (), ()
    names = ", ".join(knowledge.analyte(lab).short for lab in missing)
    note = knowledge.cards.phrases["lithium_monitoring_note"].format(labs=names, days=context.monitoring_days)
    return (note,), tuple(missing)


def lithium_context(
    facts: PatientFacts, knowledge: Knowledge, level: LabResult | None, *, monitoring: bool = True
) -> LithiumContext:
    """Interacting drugs, renal function, timing and (``monitoring``) TSH/calcium for a patient on lithium."""
    interacting = _interacting_uses(facts, knowledge)
    lines = [use_line(use, knowledge.drug_group(group), facts.now, knowledge) for use, group in interacting]
    notes = [knowledge.cards.phrases["lithium_interacting_note"]] if interacting else []
    renal_lines, renal_notes, renal_orders = _renal(facts, knowledge)
    monitoring_notes, monitoring_orders = _monitoring(facts, knowledge) if monitoring else ((), ())
    return LithiumContext(
        reasons=due_reasons(facts, knowledge, level),
        lines=(*lines, *renal_lines),
        notes=(*notes, *renal_notes, *monitoring_notes),
        orders=(*renal_orders, *monitoring_orders),
        renal_reduced=bool(renal_notes),
    )


def _lithium_level_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    analyte = knowledge.analyte("lithium")
    level = facts.recent("lithium", analyte.lookback_days)
    if level is None or classify(level, analyte, knowledge.unit_aliases) != Direction.HIGH:
        return None
    # Toxic: at or above the critical level, or new twitching with a level above the range (dailymed-lithium).
    twitching = bool(facts.conditions_with(ConditionRole.TRIGGER))
    toxic = critical_direction(level, analyte) == Direction.HIGH or twitching
    uses = qualifying_uses(facts, knowledge.drug_group("lithium"))
    # A high level is acute: the card adds interacting drugs and renal function, not routine TSH/calcium monitoring.
    phrases, context = knowledge.cards.phrases, lithium_context(facts, knowledge, None, monitoring=False)
    shown = text.quantity(level.value_text, level.unit) + (phrases["preliminary_suffix"] if level.preliminary else "")
    return Finding(
        rule_id=LITHIUM_TOXIC_RULE if toxic else "lab.lithium.high",
        category=Category.LAB,
        indicator=Indicator.CRITICAL if toxic else Indicator.WARNING,
        summary={"value": shown, "age": text.age(level.effective, facts.now), "suffix": ""},
        facts=(
            text.lab_line(analyte.display, level.value_text, level, facts.now, flag="high"),
            *(use_line(u, knowledge.drug_group("lithium"), facts.now, knowledge) for u in uses),
            *context.lines,
        ),
        notes=(*lab_notes(level, knowledge), *context.notes),
        orders=("lithium", *context.orders),
        citations=analyte.citations,
        cause=phrases["lithium_high_cause"],
    )


def _status(facts: PatientFacts, knowledge: Knowledge, level: LabResult | None, reasons: tuple[str, ...]) -> str:
    """The card's status: no level, a stale one, the reason a recent one is due, else what it says."""
    analyte, phrases = knowledge.analyte("lithium"), knowledge.cards.phrases
    if level is None:
        return phrases["lithium_no_level"]
    if facts.now - level.effective > dt.timedelta(days=analyte.lookback_days):
        return phrases["lithium_no_recent_level"].format(days=analyte.lookback_days)
    if reasons:
        return phrases["lithium_level_due"].format(reason=reasons[0])
    if not level.unit_understood:
        return phrases["lithium_unit_unknown"]
    value, age = text.quantity(level.value_text, level.unit), text.age(level.effective, facts.now)
    return phrases["lithium_last_level"].format(value=value, age=age)


def _in_range(facts: PatientFacts, knowledge: Knowledge, level: LabResult | None, reasons: tuple[str, ...]) -> bool:
    """A recent, readable level that is not high and nothing makes due: the card says it does not exonerate lithium."""
    analyte = knowledge.analyte("lithium")
    if level is None or reasons or not level.unit_understood:
        return False
    recent = facts.now - level.effective <= dt.timedelta(days=analyte.lookback_days)
    return recent and classify(level, analyte, knowledge.unit_aliases) != Direction.HIGH


def _renal_suffix(context: LithiumContext, knowledge: Knowledge) -> str:
    """The summary's word on renal function: reduced clearance raises lithium (issue 25)."""
    return knowledge.cards.phrases["lithium_renal_suffix"] if context.renal_reduced else ""


def _said(status: str, reasons: tuple[str, ...]) -> tuple[str, ...]:
    """The reasons the status does not already say, as card lines."""
    return tuple(reason for reason in reasons if reason not in status)


def lithium_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """Lithium (dailymed-lithium): a high level is the finding; on lithium without a current one, a level is due."""
    high = _lithium_level_finding(facts, knowledge)
    if high is not None:
        return high
    group = knowledge.drug_group("lithium")
    uses = qualifying_uses(facts, group)
    if not uses:
        return None
    level = facts.latest("lithium")
    context = lithium_context(facts, knowledge, level)
    lines = [use_line(u, group, facts.now, knowledge) for u in uses]
    if level is not None:
        lines.append(text.lab_line(knowledge.analyte("lithium").display, level.value_text, level, facts.now))
    status = _status(facts, knowledge, level, context.reasons)
    phrases = knowledge.cards.phrases
    in_range = _in_range(facts, knowledge, level, context.reasons)
    return Finding(
        rule_id="drug.lithium",
        category=Category.DRUG,
        indicator=Indicator.WARNING,
        summary={"drug": text.record(uses[0].name), "status": status, "suffix": _renal_suffix(context, knowledge)},
        facts=(*lines, *_said(status, context.reasons), *context.lines),
        notes=(*([phrases["lithium_in_range_note"]] if in_range else ()), *context.notes),
        orders=("lithium", *context.orders),
        citations=group.citations,
        cause=knowledge.cards.phrases["lithium_cause"],
    )
