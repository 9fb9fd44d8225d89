"""Condition rules: when the screen speaks, context conditions that explain a lab, and toxic exposures."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from enum import StrEnum

from service.facts import ConditionFact, Confidence, PatientFacts
from service.knowledge import ConditionRole, ConditionSet, Knowledge
from service.knowledge.loader import NICOTINIC_SUFFIX
from service.rules import text
from service.rules.findings import Category, Finding, Indicator
from service.rules.judge import classify


class ScreenMode(StrEnum):
    """How much the screen says for this patient."""

    FULL = "full"  # documented fasciculations: everything, including missing labs and red flags
    GATED = "gated"  # ALS/MND, MS or neuropathy without documented fasciculations: reversible causes only
    OFF = "off"  # neither: no cards


def screen_mode(facts: PatientFacts) -> ScreenMode:
    """Full for documented fasciculations, gated for the neurological diseases alone, otherwise off."""
    if facts.conditions_with(ConditionRole.TRIGGER):
        return ScreenMode.FULL
    return ScreenMode.GATED if facts.conditions_with(ConditionRole.DISEASE) else ScreenMode.OFF


def condition_line(item: ConditionFact, knowledge: Knowledge) -> str:
    """A condition as a card fact: its name, when recorded, and whether it was recognised by text only."""
    phrases = knowledge.cards.phrases
    recorded = phrases["condition_observed" if item.observed else "condition_recorded"]
    when = recorded.format(date=text.date(item.recorded)) if item.recorded else ""
    how = phrases["condition_by_text"] if item.confidence == Confidence.TEXT else ""
    return f"{text.record(item.name)}{when}{how}"


def _sets_for(knowledge: Knowledge, analyte_id: str) -> list[ConditionSet]:
    wanted = knowledge.same_question(analyte_id)
    return [s for s in knowledge.sets_with_role(ConditionRole.CONTEXT) if wanted & set(s.labs)]


def context_note(facts: PatientFacts, knowledge: Knowledge, analyte_id: str) -> str | None:
    """Context conditions on the problem list that bear on this analyte (e.g. CKD, diarrhoea, alcohol use)."""
    ids = {s.id for s in _sets_for(knowledge, analyte_id)}
    items = [condition_line(c, knowledge) for c in facts.conditions_with(ConditionRole.CONTEXT) if c.set_id in ids]
    return knowledge.cards.phrases["context"].format(items="; ".join(items)) if items else None


def context_lab_needs(facts: PatientFacts, knowledge: Knowledge) -> dict[str, list[str]]:
    """Labs that context conditions (and diseases with labs: neuropathy -> B12) call for, named as reasons."""
    sets = {s.id: s for s in knowledge.condition_sets if s.role in (ConditionRole.CONTEXT, ConditionRole.DISEASE)}
    needs: dict[str, list[str]] = {}
    for item in facts.conditions:
        for lab in sets[item.set_id].labs if item.set_id in sets else ():
            reasons = needs.setdefault(lab, [])
            reasons += [sets[item.set_id].display.lower()] if sets[item.set_id].display.lower() not in reasons else []
    return needs


def gated_needs(facts: PatientFacts, knowledge: Knowledge, needs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Drop needs for labs asked only with a condition that is not current (B12 only with a neuropathy; issue 15)."""
    current = {item.set_id for item in facts.conditions}
    return {
        lab: reasons
        for lab, reasons in needs.items()
        if not knowledge.analyte(lab).needed_only_with or current & set(knowledge.analyte(lab).needed_only_with)
    }


def disease_notes(facts: PatientFacts, knowledge: Knowledge) -> tuple[str, ...]:
    """Notes of conditions on record that the cards should mention (MMN: a treatable ALS mimic; efns-pns-mmn-2006)."""
    notes = {s.id: s.note for s in knowledge.condition_sets if s.note}
    return tuple(dict.fromkeys(notes[c.set_id] for c in facts.conditions if c.set_id in notes))


def _exposure_finding(facts: PatientFacts, knowledge: Knowledge, exposure: ConditionSet) -> Finding | None:
    items = [c for c in facts.conditions_with(ConditionRole.EXPOSURE) if c.set_id == exposure.id]
    if not items:
        return None
    lines, orders, low = [condition_line(c, knowledge) for c in items], [], []
    for lab in exposure.labs:
        analyte = knowledge.analyte(lab)
        result = facts.recent(lab, analyte.lookback_days)
        if result is None:
            orders += [lab] if analyte.alternative_to is None and not _answered(facts, knowledge, lab) else []
            continue
        direction = classify(result, analyte, knowledge.unit_aliases)
        low += [analyte.short] if direction is not None else []
        lines.append(text.lab_line(analyte.display, result.value_text, result, facts.now, direction or ""))
    return Finding(
        rule_id=f"exposure.{exposure.id}",
        category=Category.EXPOSURE,
        indicator=Indicator.WARNING,
        summary={"suffix": f"; {', '.join(low)} low" if low else ""},
        facts=tuple(lines),
        orders=tuple(orders),
        citations=exposure.citations,
        cause=exposure.display.lower(),
    )


def _answered(facts: PatientFacts, knowledge: Knowledge, lab: str) -> bool:
    """Whether a recent result of an alternative analyte (RBC cholinesterase per volume) answers this lab."""
    alternatives = (a for a in knowledge.analytes.values() if a.alternative_to == lab)
    return any(facts.recent(a.id, a.lookback_days) is not None for a in alternatives)


def nicotinic_toxicity(facts: PatientFacts, knowledge: Knowledge, finding: Finding) -> Finding:
    """Recent organophosphate exposure with fasciculations (eddleston-op-2008, statpearls-organophosphate).

    Fasciculations are then a nicotinic sign of acetylcholinesterase inhibition, i.e. poisoning, with a risk of the
    intermediate syndrome (respiratory and proximal weakness 24-96 h after exposure): a critical card that points to
    urgent toxicology instead of a routine work-up. An undated exposure counts, as it may be recent.
    """
    rules = knowledge.nicotinic_toxicity
    if (
        rules is None
        or finding.rule_id != f"exposure.{rules.exposure}"
        or not facts.conditions_with(ConditionRole.TRIGGER)
    ):
        return finding
    window = dt.timedelta(days=rules.window_days)
    exposures = [c for c in facts.conditions_with(ConditionRole.EXPOSURE) if c.set_id == rules.exposure]
    if not any(c.recorded is None or facts.now - c.recorded <= window for c in exposures):
        return finding
    rule_id = f"{finding.rule_id}.{NICOTINIC_SUFFIX}"
    return replace(finding, rule_id=rule_id, indicator=Indicator.CRITICAL)


def exposure_findings(facts: PatientFacts, knowledge: Knowledge) -> list[Finding]:
    """Coded toxic exposures (organophosphate/carbamate T60.0X-, mayo-achs) with cholinesterase results or orders."""
    sets = knowledge.sets_with_role(ConditionRole.EXPOSURE)
    found = [f for s in sets if (f := _exposure_finding(facts, knowledge, s)) is not None]
    return [nicotinic_toxicity(facts, knowledge, f) for f in found]
