"""One patient of a cohort through the hooks' own screen: grouped resources -> PatientRecord -> screen -> response.

``screen_group`` is the only place the cohort calls the screen (every engine calls it, through ``screen_groups``), so
whatever the facts edge decides about a record applies here exactly as it does to a hook call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import orjson

from cds_hooks import Card, HookResponse
from service.cards import provenance
from service.facts.records import build_record
from service.facts.skip_log import skip_log
from service.knowledge import WORKUP_RULE, Knowledge
from service.rules.findings import URGENCY
from service.screen import ScreenResult, screen_patient
from service.workup.links import add_links

# Card uuids derive from the hookInstance: one per patient and instant, so every engine and every resumed run writes
# the same bytes, and `evaluate --hook-instance` with the same value prints the same cards.
HOOK_INSTANCE_NAMESPACE = uuid.UUID("5b0e7c8e-2f4e-4b59-9d0a-6c3f1f2d7a11")
SUMMARY_SEPARATOR = " | "


def cohort_hook_instance(patient_id: str, now: dt.datetime) -> str:
    """The hookInstance the cohort uses for this patient at this instant."""
    return str(uuid.uuid5(HOOK_INSTANCE_NAMESPACE, f"{now.isoformat()}|{patient_id}"))


@dataclass(frozen=True)
class ScreenContext:
    """What every patient of a run is screened with."""

    knowledge: Knowledge
    now: dt.datetime
    link_url: str | None  # the work-up launch URL put on every card (None: CDS_WORKUP_LINKS off)


@dataclass(frozen=True)
class Entry:
    """One resource of a patient's group, as read: its JSON text and the Bundle fullUrl it had (if any)."""

    json: str | bytes
    full_url: str | None = None


@dataclass(frozen=True)
class PatientOutcome:
    """The worklist row (None when the patient got no card) and the full CDS Hooks response line of one patient."""

    patient_id: str
    row: dict[str, str | int] | None
    response_line: bytes
    skipped: int
    mode: str
    workup_open: bool  # the screen asked for labs (a work-up finding): the work-up is not complete


def _record_value(entries: Iterable[Entry]) -> dict[str, object]:
    """The group as a collection Bundle, so the record edge resolves ``urn:uuid:`` Medication references as it does."""
    listed = []
    for entry in entries:
        resource = orjson.loads(entry.json)
        listed.append({"fullUrl": entry.full_url, "resource": resource} if entry.full_url else {"resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": listed}


def screen_group(patient_id: str, entries: Sequence[Entry], context: ScreenContext) -> PatientOutcome:
    """Screen one patient's grouped resources exactly as a hook call screens its prefetch."""
    hook_instance = cohort_hook_instance(patient_id, context.now)
    with skip_log(hook_instance) as skips:
        record = build_record([_record_value(entries)])
        result = screen_patient(record, now=context.now, hook_instance=hook_instance, knowledge=context.knowledge)
    cards = add_links(result.cards, context.link_url) if context.link_url else list(result.cards)
    response = HookResponse(cards=tuple(cards)).to_json()
    line = {"patient_id": patient_id, "hookInstance": hook_instance, "response": response}
    skipped = sum(skips.values())
    row = worklist_row(patient_id, result, cards, skipped) if cards else None
    workup_open = any(finding.rule_id == WORKUP_RULE for finding in result.findings)
    return PatientOutcome(patient_id, row, orjson.dumps(line), skipped, result.mode.value, workup_open)


def _highest(cards: Sequence[Card]) -> str:
    return max((card.indicator for card in cards), key=lambda indicator: URGENCY[indicator]).value


def worklist_row(patient_id: str, result: ScreenResult, cards: Sequence[Card], skipped: int) -> dict[str, str | int]:
    """One worklist row: the highest indicator, rule ids, mode, summaries, the work-up's labs and data problems."""
    rule_ids = [tag.rule_id for tag in map(provenance, cards) if tag is not None]
    workup = next((f for f in result.findings if f.rule_id == WORKUP_RULE), None)
    ordered = dict.fromkeys(lab for finding in result.findings for lab in finding.orders)
    return {
        "patient_id": patient_id,
        "indicator": _highest(cards),
        "rule_ids": ";".join(rule_ids),
        "mode": result.mode.value,
        "cards": len(cards),
        "summaries": SUMMARY_SEPARATOR.join(card.summary for card in cards),
        "labs_missing_stale": workup.summary.get("labs", "") if workup else "",
        "labs_to_order": ";".join(ordered),
        "skipped_resources": skipped,
    }


WORKLIST_COLUMNS = (
    "patient_id",
    "indicator",
    "rule_ids",
    "mode",
    "cards",
    "summaries",
    "labs_missing_stale",
    "labs_to_order",
    "skipped_resources",
)


def screen_groups(groups: Iterable[tuple[str, Sequence[Entry]]], context: ScreenContext) -> Iterator[PatientOutcome]:
    """Every group through ``screen_group``, in the order given."""
    for patient_id, entries in groups:
        yield screen_group(patient_id, entries, context)
