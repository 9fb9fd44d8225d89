"""Drug rules: lithium (level-monitored), drugs that cause twitching directly, and Mg/Ca/K-lowering contributors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from service.facts import Confidence, MedicationUse, PatientFacts, UseStatus
from service.knowledge import (
    DENERVATION_GROUP,
    DENERVATION_RULE,
    LITHIUM_TOXIC_RULE,
    ConditionRole,
    Direction,
    DrugGroup,
    DrugKind,
    Knowledge,
)
from service.rules import text
from service.rules.findings import Category, Finding, Indicator
from service.rules.judge import classify, critical_direction, lab_notes
from service.rules.timing import with_onset_lead


def qualifying_uses(facts: PatientFacts, group: DrugGroup) -> tuple[MedicationUse, ...]:
    """Uses that count as exposure now: active (PPIs only after min_duration_days), recently stopped or given."""
    uses = facts.uses_of(group.id)
    now = facts.now
    if group.recent_hours is not None:
        window = dt.timedelta(hours=group.recent_hours)
        return tuple(u for u in uses if u.start is not None and dt.timedelta(0) <= now - u.start <= window)
    current = [u for u in uses if u.status == UseStatus.ACTIVE]
    if group.recently_stopped_days is not None:
        window = dt.timedelta(days=group.recently_stopped_days)
        stopped = [u for u in uses if u.status == UseStatus.STOPPED]
        # A stop without a recorded end may be recent: it counts, and the card says the stop time is unknown.
        current += [u for u in stopped if u.end is None or now - u.end <= window]
    if current and group.min_duration_days is not None:
        starts = [u.start for u in uses if u.start is not None]
        if not starts or now - min(starts) < dt.timedelta(days=group.min_duration_days):
            return ()
    return tuple(current)


def use_status_text(use: MedicationUse, now: dt.datetime, phrases: Mapping[str, str]) -> str:
    """'active', 'stopped 5 days ago' or 'given 6 h ago' (cards.yaml phrases)."""
    if use.status == UseStatus.STOPPED:
        return (
            phrases["drug_stopped"].format(age=text.age(use.end, now)) if use.end else phrases["drug_stopped_undated"]
        )
    if use.status == UseStatus.ADMINISTERED and use.start is not None:
        return phrases["drug_given"].format(ago=text.hours_ago(use.start, now))
    return phrases["drug_active"]


def _use_line(use: MedicationUse, group: DrugGroup, now: dt.datetime, knowledge: Knowledge) -> str:
    phrases = knowledge.cards.phrases
    since = phrases["drug_started"].format(date=text.date(use.start)) if use.start else ""
    how = phrases["drug_by_name"] if use.confidence == Confidence.TEXT else ""
    status = use_status_text(use, now, phrases)
    return f"{use.name} ({group.display.lower()}; {use.resource_type} {status}{since}){how}"


def contributor_note(facts: PatientFacts, knowledge: Knowledge, analyte_id: str) -> str | None:
    """Drugs on record that lower (or, for TSH, shift) this analyte, as one sentence (medications.yaml labs)."""
    items = [
        _use_line(use, group, facts.now, knowledge)
        for group in knowledge.drug_groups
        if group.kind != DrugKind.LITHIUM and knowledge.same_question(analyte_id) & set(group.labs)
        for use in qualifying_uses(facts, group)[:1]
    ]
    return knowledge.cards.phrases["contributors"].format(items="; ".join(items)) if items else None


def drug_lab_needs(facts: PatientFacts, knowledge: Knowledge) -> dict[str, list[str]]:
    """Labs that drugs on record call for, with the drug names as reasons (for the work-up card)."""
    needs: dict[str, list[str]] = {}
    for group in knowledge.drug_groups:
        uses = qualifying_uses(facts, group) if group.kind != DrugKind.LITHIUM else ()
        for lab in group.labs if uses else ():
            needs.setdefault(lab, []).append(knowledge.cards.phrases["drug_need"].format(drug=uses[0].name.lower()))
    return needs


def _lithium_level_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    analyte = knowledge.analyte("lithium")
    level = facts.recent("lithium", analyte.lookback_days)
    if level is None or classify(level, analyte, knowledge.unit_aliases) != Direction.HIGH:
        return None
    # Toxic: at or above the critical level, or new twitching with a level above the range (dailymed-lithium).
    twitching = bool(facts.conditions_with(ConditionRole.TRIGGER))
    toxic = critical_direction(level, analyte) == Direction.HIGH or twitching
    uses = qualifying_uses(facts, knowledge.drug_group("lithium"))
    phrases = knowledge.cards.phrases
    shown = text.quantity(level.value_text, level.unit) + (phrases["preliminary_suffix"] if level.preliminary else "")
    return Finding(
        rule_id=LITHIUM_TOXIC_RULE if toxic else "lab.lithium.high",
        category=Category.LAB,
        indicator=Indicator.CRITICAL if toxic else Indicator.WARNING,
        summary={"value": shown, "age": text.age(level.effective, facts.now), "suffix": ""},
        facts=(
            text.lab_line(analyte.display, level.value_text, level, facts.now, flag="high"),
            *(_use_line(u, knowledge.drug_group("lithium"), facts.now, knowledge) for u in uses),
        ),
        notes=lab_notes(level, knowledge),
        orders=("lithium",),
        citations=analyte.citations,
        cause=phrases["lithium_high_cause"],
    )


def lithium_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """Lithium (dailymed-lithium): a high level is the finding; on lithium without one, a fresh level is due."""
    high = _lithium_level_finding(facts, knowledge)
    if high is not None:
        return high
    group = knowledge.drug_group("lithium")
    uses = qualifying_uses(facts, group)
    if not uses:
        return None
    analyte, phrases = knowledge.analyte("lithium"), knowledge.cards.phrases
    level = facts.latest("lithium")
    lines = [_use_line(u, group, facts.now, knowledge) for u in uses]
    if level is None:
        status = phrases["lithium_no_level"]
    elif not level.unit_understood and facts.now - level.effective <= dt.timedelta(days=analyte.lookback_days):
        status = phrases["lithium_unit_unknown"]
        lines.append(text.lab_line(analyte.display, level.value_text, level, facts.now))
    else:
        value, age = text.quantity(level.value_text, level.unit), text.age(level.effective, facts.now)
        status = phrases["lithium_last_level"].format(value=value, age=age)
        lines.append(text.lab_line(analyte.display, level.value_text, level, facts.now))
    if level is not None and facts.now - level.effective > dt.timedelta(days=analyte.lookback_days):
        status = phrases["lithium_no_recent_level"].format(days=analyte.lookback_days)
    return Finding(
        rule_id="drug.lithium",
        category=Category.DRUG,
        indicator=Indicator.WARNING,
        summary={"drug": uses[0].name, "status": status, "suffix": ""},
        facts=tuple(lines),
        orders=("lithium",),
        citations=group.citations,
        cause=phrases["lithium_cause"],
    )


def denervation_sets(facts: PatientFacts, knowledge: Knowledge) -> list[str]:
    """Current conditions in which succinylcholine risks hyperkalaemia (martyn-succinylcholine-2006)."""
    rules = knowledge.denervation
    current = {c.set_id: c for c in facts.conditions}
    weak = any(item in current for item in rules.weakness)
    found = [item for item in rules.always if item in current]
    found += [item for item in rules.with_weakness if weak and item in current]
    displays = {s.id: s.display for s in knowledge.condition_sets}
    return [displays[item] for item in found]


def _denervation_finding(facts: PatientFacts, knowledge: Knowledge, uses: tuple[MedicationUse, ...]) -> Finding:
    """Succinylcholine after denervation (martyn-succinylcholine-2006, label): critical, never 'expected'."""
    states = denervation_sets(facts, knowledge)
    group, phrases = knowledge.drug_group(DENERVATION_GROUP), knowledge.cards.phrases
    denervation = phrases["denervation_found"].format(states="; ".join(states))
    return Finding(
        rule_id=DENERVATION_RULE,
        category=Category.DRUG,
        indicator=Indicator.CRITICAL,
        summary={"drug": uses[0].name, "status": use_status_text(uses[0], facts.now, phrases), "suffix": ""},
        facts=(*(_use_line(u, group, facts.now, knowledge) for u in uses), denervation),
        orders=("potassium",),
        citations=knowledge.denervation.citations,
        safety=True,
    )


def succinylcholine_safety_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """The denervation card, whatever the screen mode: a safety warning, not a cause of twitching."""
    uses = qualifying_uses(facts, knowledge.drug_group(DENERVATION_GROUP))
    if not uses or not denervation_sets(facts, knowledge):
        return None
    return _denervation_finding(facts, knowledge, uses)


def direct_drug_findings(facts: PatientFacts, knowledge: Knowledge) -> list[Finding]:
    """Drugs that can cause twitching themselves (beta-2 agonists, stimulants, cholinesterase inhibitors, ...)."""
    findings, phrases = [], knowledge.cards.phrases
    denervated = bool(denervation_sets(facts, knowledge))
    for group in knowledge.drug_groups:
        uses = qualifying_uses(facts, group) if group.kind == DrugKind.DIRECT else ()
        if not uses or (group.id == DENERVATION_GROUP and denervated):
            continue  # succinylcholine after denervation gets the safety card instead of "expected twitching"
        missing = tuple(lab for lab in group.labs if facts.recent(lab, knowledge.analyte(lab).lookback_days) is None)
        finding = Finding(
            rule_id=f"drug.{group.id}",
            category=Category.DRUG,
            indicator=Indicator.WARNING,
            summary={"drug": uses[0].name, "status": use_status_text(uses[0], facts.now, phrases), "suffix": ""},
            facts=tuple(_use_line(u, group, facts.now, knowledge) for u in uses),
            notes=(phrases["drug_evidence"].format(evidence=group.evidence),),
            orders=missing,
            citations=group.citations,
            # Weakly evidenced culprits speak only when fasciculations are documented (medications.yaml).
            reversible=group.speaks_without_fasciculation,
            cause=uses[0].name.lower(),
        )
        # A withdrawal or peri-operative effect is not weighed by how long before the twitching the drug started.
        timed = group.recently_stopped_days is None and group.recent_hours is None
        findings.append(with_onset_lead(finding, group.id, facts, knowledge) if timed else finding)
    return findings
