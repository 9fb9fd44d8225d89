"""Drug rules: drugs that cause twitching directly, and Mg/Ca/K-lowering contributors (lithium: rules/lithium.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from service.facts import Confidence, MedicationUse, PatientFacts, UseStatus
from service.knowledge import DENERVATION_GROUP, DENERVATION_RULE, DrugGroup, DrugKind, Knowledge
from service.rules import text
from service.rules.findings import Category, Finding, Indicator
from service.rules.timing import with_onset_lead


def qualifying_uses(facts: PatientFacts, group: DrugGroup) -> tuple[MedicationUse, ...]:
    """Uses that count as exposure now: active (PPIs only after min_duration_days), recently stopped or given."""
    uses = facts.uses_of(group.id)
    if not uses:
        return ()
    now = facts.now
    if group.recent_hours is not None:
        window = dt.timedelta(hours=group.recent_hours)
        return tuple(u for u in uses if u.start is not None and dt.timedelta(0) <= now - u.start <= window)
    # Withdrawal groups (benzodiazepines, issue 15): current use is not the cause, a recent stop is.
    current = [u for u in uses if u.status == UseStatus.ACTIVE and not group.withdrawal_only]
    if group.recently_stopped_days is not None:
        window = dt.timedelta(days=group.recently_stopped_days)
        stopped = [u for u in uses if u.status == UseStatus.STOPPED]
        # A stop without a recorded end may be recent: it counts, and the card says the stop time is unknown, unless
        # the use started too long ago for that to be likely (undated_stop_start_days, issue 15).
        current += [u for u in stopped if (now - u.end <= window if u.end else _undated_may_be_recent(u, group, now))]
    if current and group.min_duration_days is not None:
        starts = [u.start for u in uses if u.start is not None]
        if not starts or now - min(starts) < dt.timedelta(days=group.min_duration_days):
            return ()
    return tuple(current)


def _undated_may_be_recent(use: MedicationUse, group: DrugGroup, now: dt.datetime) -> bool:
    """Whether a stop without an end date may still be recent (medications.yaml undated_stop_start_days)."""
    limit = group.undated_stop_start_days
    return limit is None or (use.start is not None and now - use.start <= dt.timedelta(days=limit))


def use_status_text(use: MedicationUse, now: dt.datetime, phrases: Mapping[str, str]) -> str:
    """'active', 'stopped 5 days ago' or 'given 6 h ago' (cards.yaml phrases)."""
    if use.status == UseStatus.STOPPED:
        return (
            phrases["drug_stopped"].format(age=text.age(use.end, now)) if use.end else phrases["drug_stopped_undated"]
        )
    if use.status == UseStatus.ADMINISTERED and use.start is not None:
        return phrases["drug_given"].format(ago=text.hours_ago(use.start, now))
    return phrases["drug_active"]


def use_line(use: MedicationUse, group: DrugGroup, now: dt.datetime, knowledge: Knowledge) -> str:
    phrases = knowledge.cards.phrases
    since = phrases["drug_started"].format(date=text.date(use.start)) if use.start else ""
    how = phrases["drug_by_name"] if use.confidence == Confidence.TEXT else ""
    status = use_status_text(use, now, phrases)
    return f"{text.record(use.name)} ({group.display.lower()}; {use.resource_type} {status}{since}){how}"


def contributor_note(facts: PatientFacts, knowledge: Knowledge, analyte_id: str) -> str | None:
    """Drugs on record that lower (or, for TSH, shift) this analyte, as one sentence (medications.yaml labs)."""
    found = [
        (group, use) for group in knowledge.contributor_groups(analyte_id) for use in qualifying_uses(facts, group)[:1]
    ]
    if not found:
        return None
    items = "; ".join(use_line(use, group, facts.now, knowledge) for group, use in found)
    notes = [group.contributor_note for group, _ in found if group.contributor_note]
    return " ".join([knowledge.cards.phrases["contributors"].format(items=items), *notes])


def drug_lab_needs(facts: PatientFacts, knowledge: Knowledge) -> dict[str, list[str]]:
    """Labs that drugs on record call for, with the drug names as reasons (for the work-up card)."""
    needs: dict[str, list[str]] = {}
    for group in knowledge.drug_groups:
        uses = qualifying_uses(facts, group) if group.kind != DrugKind.LITHIUM else ()
        for lab in group.labs if uses else ():
            drug = text.record(uses[0].name.lower())
            needs.setdefault(lab, []).append(knowledge.cards.phrases["drug_need"].format(drug=drug))
    return needs


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
        summary={
            "drug": text.record(uses[0].name),
            "status": use_status_text(uses[0], facts.now, phrases),
            "suffix": "",
        },
        facts=(*(use_line(u, group, facts.now, knowledge) for u in uses), denervation),
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
            summary={
                "drug": text.record(uses[0].name),
                "status": use_status_text(uses[0], facts.now, phrases),
                "suffix": "",
            },
            facts=tuple(use_line(u, group, facts.now, knowledge) for u in uses),
            notes=(phrases["drug_evidence"].format(evidence=group.evidence),),
            orders=missing,
            citations=group.citations,
            # Weakly evidenced culprits speak only when fasciculations are documented (medications.yaml).
            reversible=group.speaks_without_fasciculation,
            cause=text.record(uses[0].name.lower()),
        )
        # A withdrawal or peri-operative effect is not weighed by how long before the twitching the drug started.
        timed = group.recently_stopped_days is None and group.recent_hours is None
        findings.append(with_onset_lead(finding, group.id, facts, knowledge) if timed else finding)
    return findings
