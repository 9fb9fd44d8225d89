"""Recognising draft orders: which entries of ``draftOrders`` count, and which are triggers or culprit drugs.

Triggers (orders.yaml) are the orders at which twitching is put down to progression: EMG / nerve conduction
studies, neurology referrals, ALS or MS disease-modifying treatment. Culprit drugs are the medications.yaml groups
listed in ``culprit_groups``, recognised by the screen's own drug matcher (``service.facts.code_index``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cds_hooks import BadRequest
from service.facts.code_index import (
    ATC_SYSTEM,
    RXNORM_SYSTEM,
    SNOMED_SYSTEM,
    Concept,
    Confidence,
    Match,
    fact_index,
    flatten_concepts,
)
from service.facts.dates import parse_instant
from service.facts.medications import MedicationUse, UseStatus, medication_concepts, short_name, use_window
from service.facts.records import PatientRecord, Resource
from service.knowledge import Knowledge, OrderTrigger

CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
ORDER_TYPES = frozenset({"ServiceRequest", "MedicationRequest"})
DRAFT_STATUS = "draft"


class OrderRole(StrEnum):
    """Why an order matters to the screen."""

    TRIGGER = "trigger"  # EMG, referral, DMT change: the moment of attribution to progression
    CULPRIT = "culprit"  # a new drug that itself causes fasciculations


@dataclass(frozen=True)
class RecognisedOrder:
    """A counted draft order, what it is (trigger id or drug group id) and how it was recognised."""

    reference: str
    role: OrderRole
    key: str
    confidence: Confidence
    uses: tuple[MedicationUse, ...] = ()  # a culprit drug as the patient will take it once signed


def _reference(resource: Resource) -> str | None:
    resource_id = resource.get("id")
    return f"{resource.get('resourceType')}/{resource_id}" if isinstance(resource_id, str) else None


def counted_orders(drafts: Sequence[Resource], selections: Sequence[str] | None) -> list[Resource]:
    """Draft requests that count: those named in ``selections`` (order-select), else every one (order-sign)."""
    resources = list(drafts)
    if selections is not None:
        by_reference = {ref: r for r in resources if (ref := _reference(r))}
        if any(selection not in by_reference for selection in selections):
            raise BadRequest("invalid context", {"context.selections": ["must reference entries of draftOrders"]})
        resources = [by_reference[selection] for selection in dict.fromkeys(selections)]
    return [r for r in resources if r.get("resourceType") in ORDER_TYPES and r.get("status") == DRAFT_STATUS]


@functools.cache
def _text_patterns(knowledge: Knowledge) -> Mapping[str, re.Pattern[str]]:
    """Whole-word, case-insensitive pattern per trigger (cached: a Knowledge hashes by identity)."""
    patterns = {}
    for trigger in knowledge.orders.triggers:
        words = sorted({t.strip().lower() for t in trigger.text}, key=len, reverse=True)
        patterns[trigger.id] = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    return patterns


def _coded(concept: Concept, trigger: OrderTrigger) -> bool:
    for system, code in concept.codings:
        if system == CPT_SYSTEM and code.isdigit() and any(lo <= int(code) <= hi for lo, hi in trigger.cpt_ranges):
            return True
        if (system, code) in {(SNOMED_SYSTEM, c) for c in trigger.snomed} | {(ATC_SYSTEM, c) for c in trigger.atc}:
            return True
        if system == RXNORM_SYSTEM and code in trigger.rxnorm:
            return True
    return False


def match_trigger(resource_type: str, concept: Concept, knowledge: Knowledge) -> Match | None:
    """The trigger an order concept names: codes across all triggers first, then text."""
    triggers = [t for t in knowledge.orders.triggers if t.resource == resource_type]
    for trigger in triggers:
        if _coded(concept, trigger):
            return Match(trigger.id, Confidence.CODE)
    joined = " | ".join(concept.texts)
    patterns = _text_patterns(knowledge)
    return next((Match(t.id, Confidence.TEXT) for t in triggers if joined and patterns[t.id].search(joined)), None)


def signed_uses(draft: Resource, concept: Concept, now: dt.datetime, knowledge: Knowledge) -> tuple[MedicationUse, ...]:
    """A culprit draft read once as the active MedicationRequest it becomes when signed: one use per drug group.

    A recognised culprit is never dropped: the drug was recognised by its concept, so nothing else must be readable;
    the use starts at the draft's ``authoredOn`` when that is a date, else now.
    """
    start, end = parse_instant(draft.get("authoredOn")) or now, use_window("MedicationRequest", draft)[1]
    return tuple(
        MedicationUse(
            m.key,
            short_name(concept, knowledge.drug_group(m.key)),
            UseStatus.ACTIVE,
            start or now,
            end,
            "MedicationRequest",
            m.confidence,
        )
        for m in fact_index(knowledge).match_drug(concept)
    )


def _recognise(
    resource: Resource, record: PatientRecord, now: dt.datetime, knowledge: Knowledge
) -> RecognisedOrder | None:
    resource_type, reference = str(resource.get("resourceType")), _reference(resource) or "(no id)"
    if resource_type == "ServiceRequest":
        concept = flatten_concepts([resource.get("code")])
    else:
        concept = flatten_concepts(medication_concepts(resource, record)[0])
    trigger = match_trigger(resource_type, concept, knowledge)
    if trigger is not None:
        return RecognisedOrder(reference, OrderRole.TRIGGER, trigger.key, trigger.confidence)
    if resource_type != "MedicationRequest":
        return None
    culprits = knowledge.orders.culprit_groups
    match = next((m for m in fact_index(knowledge).match_drug(concept) if m.key in culprits), None)
    if match is None:
        return None
    uses = signed_uses(resource, concept, now, knowledge)
    return RecognisedOrder(reference, OrderRole.CULPRIT, match.key, match.confidence, uses)


def recognise_orders(
    record: PatientRecord, selections: Sequence[str] | None, now: dt.datetime, knowledge: Knowledge
) -> list[RecognisedOrder]:
    """The counted draft orders that are triggers or culprit drugs, in bundle (or selection) order."""
    found = (_recognise(r, record, now, knowledge) for r in counted_orders(record.draft_orders, selections))
    return [order for order in found if order is not None]
