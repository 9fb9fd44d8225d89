"""Drug rules: lithium (level-monitored), drugs that cause twitching directly, and Mg/Ca/K-lowering contributors."""

from __future__ import annotations

import datetime as dt

from service.facts import MedicationUse, PatientFacts, UseStatus
from service.knowledge import Knowledge
from service.knowledge_model import Direction, DrugGroup, DrugKind
from service.rules import text
from service.rules.findings import Category, Finding, Indicator
from service.rules.judge import classify, critical_direction

CALCIUM_ANALYTES = frozenset({"calcium_total", "calcium_ionised"})


def _same_lab(linked: str, analyte_id: str) -> bool:
    return linked == analyte_id or (linked in CALCIUM_ANALYTES and analyte_id in CALCIUM_ANALYTES)


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
        current += [u for u in uses if u.status == UseStatus.STOPPED and u.end is not None and now - u.end <= window]
    if current and group.min_duration_days is not None:
        starts = [u.start for u in uses if u.start is not None]
        if not starts or now - min(starts) < dt.timedelta(days=group.min_duration_days):
            return ()
    return tuple(current)


def use_status_text(use: MedicationUse, now: dt.datetime) -> str:
    """'active', 'stopped 5 days ago' or 'given 6 h ago'."""
    if use.status == UseStatus.STOPPED and use.end is not None:
        return f"stopped {text.age(use.end, now)}"
    if use.status == UseStatus.ADMINISTERED and use.start is not None:
        return f"given {text.hours_ago(use.start, now)}"
    return "active"


def _use_line(use: MedicationUse, group: DrugGroup, now: dt.datetime) -> str:
    since = f", started {text.date(use.start)}" if use.start else ""
    how = " (recognised by name only: please confirm)" if use.confidence == "text" else ""
    return f"{use.name} ({group.display.lower()}; {use.resource_type} {use_status_text(use, now)}{since}){how}"


def contributor_note(facts: PatientFacts, knowledge: Knowledge, analyte_id: str) -> str | None:
    """Drugs on record that lower (or, for TSH, shift) this analyte, as one sentence (medications.yaml labs)."""
    items = [
        _use_line(use, group, facts.now)
        for group in knowledge.drug_groups
        if group.kind != DrugKind.LITHIUM and any(_same_lab(lab, analyte_id) for lab in group.labs)
        for use in qualifying_uses(facts, group)[:1]
    ]
    return knowledge.cards.phrases["contributors"].format(items="; ".join(items)) if items else None


def drug_lab_needs(facts: PatientFacts, knowledge: Knowledge) -> dict[str, list[str]]:
    """Labs that drugs on record call for, with the drug names as reasons (for the work-up card)."""
    needs: dict[str, list[str]] = {}
    for group in knowledge.drug_groups:
        uses = qualifying_uses(facts, group) if group.kind != DrugKind.LITHIUM else ()
        for lab in group.labs if uses else ():
            needs.setdefault(lab, []).append(f"on {uses[0].name.lower()}")
    return needs


def _lithium_level_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    analyte = knowledge.analyte("lithium")
    level = facts.recent("lithium", analyte.lookback_days)
    if level is None or classify(level, analyte, knowledge.unit_aliases) != Direction.HIGH:
        return None
    critical = critical_direction(level, analyte) == Direction.HIGH
    uses = qualifying_uses(facts, knowledge.drug_group("lithium"))
    return Finding(
        rule_id="lab.lithium.high",
        category=Category.LAB,
        indicator=Indicator.CRITICAL if critical else Indicator.WARNING,
        summary={
            "value": text.quantity(level.value_text, level.unit),
            "age": text.age(level.effective, facts.now),
            "suffix": "",
        },
        facts=(
            text.lab_line(analyte.display, level.value_text, level, facts.now, flag="high"),
            *(_use_line(u, knowledge.drug_group("lithium"), facts.now) for u in uses),
        ),
        orders=("lithium",),
        citations=analyte.citations,
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
    analyte = knowledge.analyte("lithium")
    level = facts.latest("lithium")
    lines = [_use_line(u, group, facts.now) for u in uses]
    if level is None:
        status = "no level on record"
    else:
        status = f"last level {text.quantity(level.value_text, level.unit)}, {text.age(level.effective, facts.now)}"
        lines.append(text.lab_line(analyte.display, level.value_text, level, facts.now))
    if level is not None and facts.now - level.effective > dt.timedelta(days=analyte.lookback_days):
        status = f"no level in {analyte.lookback_days} days"
    return Finding(
        rule_id="drug.lithium",
        category=Category.DRUG,
        indicator=Indicator.WARNING,
        summary={"drug": uses[0].name, "status": status, "suffix": ""},
        facts=tuple(lines),
        orders=("lithium",),
        citations=group.citations,
    )


def direct_drug_findings(facts: PatientFacts, knowledge: Knowledge) -> list[Finding]:
    """Drugs that can cause twitching themselves (beta-2 agonists, stimulants, cholinesterase inhibitors, ...)."""
    findings = []
    for group in knowledge.drug_groups:
        uses = qualifying_uses(facts, group) if group.kind == DrugKind.DIRECT else ()
        if not uses:
            continue
        missing = tuple(lab for lab in group.labs if facts.recent(lab, knowledge.analyte(lab).lookback_days) is None)
        findings.append(
            Finding(
                rule_id=f"drug.{group.id}",
                category=Category.DRUG,
                indicator=Indicator.WARNING,
                summary={"drug": uses[0].name, "status": use_status_text(uses[0], facts.now), "suffix": ""},
                facts=tuple(_use_line(u, group, facts.now) for u in uses),
                notes=(f"Strength of evidence: {group.evidence}.",),
                orders=missing,
                citations=group.citations,
                # Weakly evidenced culprits speak only when fasciculations are documented (medications.yaml).
                reversible=group.speaks_without_fasciculation,
            )
        )
    return findings
