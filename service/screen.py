"""The clinical screen: record -> facts -> mode -> findings -> cards. Reusable by other hooks through ``evaluate``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cds_hooks import Card
from service.cards import build_cards
from service.facts import PatientFacts, build_facts
from service.facts.records import PatientRecord
from service.knowledge import RED_FLAGS_RULE, WORKUP_RULE, Knowledge
from service.rules.conditions import (
    ScreenMode,
    context_lab_needs,
    disease_notes,
    exposure_findings,
    gated_needs,
    screen_mode,
)
from service.rules.findings import Finding, sort_findings
from service.rules.labs import lab_findings
from service.rules.lithium import lithium_finding
from service.rules.medications import direct_drug_findings, drug_lab_needs, succinylcholine_safety_finding
from service.rules.red_flags import exam_unread_note, red_flag_finding
from service.rules.workup import workup_finding


@dataclass(frozen=True)
class ScreenResult:
    """Cards in display order, the rule id of each, and the findings behind them."""

    cards: list[Card]
    rule_ids: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    mode: ScreenMode = ScreenMode.OFF


def _merge(*needs: Mapping[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for item in needs:
        for lab, reasons in item.items():
            merged.setdefault(lab, []).extend(r for r in reasons if r not in merged.get(lab, []))
    return merged


def workup_needs(facts: PatientFacts, knowledge: Knowledge) -> dict[str, list[str]]:
    """The labs this patient's drugs and conditions add to the work-up, with their reasons (gated by knowledge)."""
    return gated_needs(facts, knowledge, _merge(drug_lab_needs(facts, knowledge), context_lab_needs(facts, knowledge)))


def offered_elsewhere(findings: Iterable[Finding]) -> frozenset[str]:
    """The labs the screen's cards other than the work-up card offer (the work-up card never offers them again)."""
    return frozenset(lab for finding in findings if finding.rule_id != WORKUP_RULE for lab in finding.orders)


def evaluate(facts: PatientFacts, knowledge: Knowledge) -> tuple[ScreenMode, list[Finding]]:
    """The findings the screen stands behind for these facts, most severe first; each says when exams were unread."""
    mode, findings = _evaluate(facts, knowledge)
    notes = [note for note in (exam_unread_note(facts, knowledge), _foreign_note(facts, knowledge)) if note]
    return mode, [f.with_notes(*notes) for f in findings] if notes else findings


def _foreign_note(facts: PatientFacts, knowledge: Knowledge) -> str | None:
    """The note every card carries when another patient's records were left out of this call (issue 22)."""
    return knowledge.cards.phrases["foreign_left_out_note"] if facts.foreign_left_out else None


def _evaluate(facts: PatientFacts, knowledge: Knowledge) -> tuple[ScreenMode, list[Finding]]:
    """The findings for these facts, most severe first, with the notes of conditions on record."""
    mode = screen_mode(facts)
    safety = succinylcholine_safety_finding(facts, knowledge)
    if mode == ScreenMode.OFF:
        return mode, [safety] if safety else []
    findings = lab_findings(facts, knowledge) + ([safety] if safety else [])
    lithium = lithium_finding(facts, knowledge)
    findings += [lithium] if lithium else []
    findings += direct_drug_findings(facts, knowledge) + exposure_findings(facts, knowledge)
    if mode == ScreenMode.FULL:
        red_flag = red_flag_finding(facts, knowledge, findings)
        findings += [red_flag] if red_flag else []
        workup = workup_finding(facts, knowledge, workup_needs(facts, knowledge), offered_elsewhere(findings))
        findings += [workup] if workup else []
    else:
        findings = [f for f in findings if f.reversible or f.safety]
    return mode, _with_disease_notes(sort_findings(findings), disease_notes(facts, knowledge))


def _with_disease_notes(findings: list[Finding], notes: tuple[str, ...]) -> list[Finding]:
    """Condition notes (MMN: treatable ALS mimic) join the red-flag card, else the first card; never a card alone."""
    if not notes or not findings:
        return findings
    target = next((i for i, f in enumerate(findings) if f.rule_id == RED_FLAGS_RULE), 0)
    return [f.with_notes(*notes) if i == target else f for i, f in enumerate(findings)]


def screen_patient(
    record: PatientRecord,
    *,
    now: dt.datetime,
    hook_instance: str,
    knowledge: Knowledge,
    framing: str | None = None,
) -> ScreenResult:
    """Screen one patient for reversible causes of fasciculations; ``framing`` prefixes every summary."""
    facts = build_facts(record, now=now, knowledge=knowledge)
    mode, findings = evaluate(facts, knowledge)
    cards = build_cards(
        findings, knowledge=knowledge, hook_instance=hook_instance, patient_id=facts.patient_id, framing=framing
    )
    return ScreenResult(cards=cards, rule_ids=tuple(f.rule_id for f in findings), findings=tuple(findings), mode=mode)
