"""Findings -> CDS Hooks cards: one builder for every rule, wording from cards.yaml, orders as ServiceRequests."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields, validate

from cds_hooks.cards import (
    SUMMARY_MAX_CHARS,
    Action,
    ActionType,
    Card,
    HookResponse,
    OverrideReason,
    SelectionBehavior,
    Source,
    Suggestion,
)
from cds_hooks.markdown import plain_text
from cds_hooks.model import WireModel, wire, wire_model
from service.knowledge import Analyte, CardRule, Knowledge
from service.rules.findings import Finding

CARD_EXTENSION = "org.fasciculation-cds.card"
LOINC_SYSTEM = "http://loinc.org"
# Fixed namespace: the same hookInstance, finding and label always give the same uuid.
UUID_NAMESPACE = uuid.UUID("6f1c64a4-3f0e-5a55-9a7e-2f9a3c1d0b11")
_NAMESPACE_BYTES = UUID_NAMESPACE.bytes
# Order actions remembered per (lab, knowledge, patient): the same patient's orders recur from call to call.
ACTIONS_KEPT = 1024


@wire_model
@dataclass(frozen=True, kw_only=True)
class CardProvenance(WireModel):
    """The rule and knowledge version behind a card, sent as its ``org.fasciculation-cds.card`` extension."""

    rule_id: str = field(metadata=wire(fields.String(data_key="ruleId", required=True, validate=validate.Length(1))))
    knowledge_version: str = field(
        metadata=wire(fields.String(data_key="knowledgeVersion", required=True, validate=validate.Length(1)))
    )


def provenance(card: Card) -> CardProvenance | None:
    """The provenance of one of our cards (None for a card built elsewhere)."""
    tag = (card.extension or {}).get(CARD_EXTENSION)
    return tag if isinstance(tag, CardProvenance) else None


def rules_note(response: HookResponse) -> str:
    """The rule ids behind a response's cards, for its log line ("rules=a,b" or "rules=-")."""
    rule_ids = [tag.rule_id for tag in map(provenance, response.cards) if tag is not None]
    return f"rules={','.join(rule_ids) or '-'}"


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def stable_uuid(hook_instance: str, rule_id: str, label: str) -> str:
    """uuid5 of hookInstance + finding id + label (RFC 4122 §4.3, without building a UUID object)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{hook_instance}|{rule_id}|{label}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def fit_summary(summary: str, framing: str | None = None) -> str:
    """The summary with its optional framing, shortened with an ellipsis to the spec's limit."""
    full = f"{framing}: {summary}" if framing else summary
    return full if len(full) <= SUMMARY_MAX_CHARS else full[: SUMMARY_MAX_CHARS - 1].rstrip() + "…"


def _citation_ids(rule: CardRule, finding: Finding) -> list[str]:
    return list(dict.fromkeys((*rule.citations, *finding.citations)))


def _detail(finding: Finding, rule: CardRule, knowledge: Knowledge) -> str:
    phrases = knowledge.cards.phrases
    sources = "; ".join(
        f"[{knowledge.citations[c].title}]({knowledge.citations[c].url})" for c in _citation_ids(rule, finding)
    )
    blocks = [
        "\n".join(f"- {line}" for line in finding.facts),
        "\n\n".join(finding.notes),
        f"**{phrases['why_heading']}:** {rule.why}",
        f"**{phrases['do_heading']}:** {finding.action or rule.action}",
        f"**{phrases['sources_heading']}:** {sources}",
        "---\n" + phrases["footer"].format(version=knowledge.version, rule_id=finding.rule_id),
    ]
    return "\n\n".join(block for block in blocks if block)


def service_request(analyte_id: str, knowledge: Knowledge, patient_id: str | None) -> dict[str, Any]:
    """A draft, proposed ServiceRequest for one lab, coded with LOINC."""
    analyte = knowledge.analyte(analyte_id)
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {
            "coding": [{"system": LOINC_SYSTEM, "code": analyte.order.loinc, "display": analyte.order.display}],
            "text": analyte.display,
        },
        "reasonCode": [{"text": knowledge.cards.phrases["order_reason"]}],
    }
    if patient_id:
        request["subject"] = {"reference": f"Patient/{patient_id}"}
    return request


def order_description(analyte: Analyte) -> str:
    """How an order for one lab is described: its LOINC display and code."""
    return f"Order {analyte.order.display} (LOINC {analyte.order.loinc})"


@functools.lru_cache(maxsize=ACTIONS_KEPT)
def _action(analyte_id: str, knowledge: Knowledge, patient_id: str | None) -> Action:
    """The order action for one lab, built (and checked) once and shared: nothing changes an Action or its resource."""
    return Action(
        type=ActionType.CREATE,
        description=order_description(knowledge.analyte(analyte_id)),
        resource=service_request(analyte_id, knowledge, patient_id),
    )


def _suggestions(
    finding: Finding, knowledge: Knowledge, hook_instance: str, patient_id: str | None
) -> tuple[Suggestion, ...]:
    phrases, orders = knowledge.cards.phrases, list(dict.fromkeys(finding.orders))
    labelled = [(phrases["order_one"].format(lab=knowledge.analyte(lab).display), [lab]) for lab in orders]
    if len(orders) > 1:
        labelled.append((phrases["order_all"].format(count=len(orders)), orders))
    return tuple(
        Suggestion(
            label=label,
            uuid=stable_uuid(hook_instance, finding.rule_id, label),
            actions=tuple(_action(lab, knowledge, patient_id) for lab in labs),
        )
        for label, labs in labelled
    )


@functools.lru_cache(maxsize=8)
def _override_reasons(knowledge: Knowledge) -> tuple[OverrideReason, ...]:
    """The override reasons of a knowledge base, built (and checked) once (a Knowledge hashes by identity)."""
    system = knowledge.cards.override_reason_system
    return tuple(
        OverrideReason(code=r.code, system=system, display=r.display) for r in knowledge.cards.override_reasons
    )


@functools.lru_cache(maxsize=256)
def _source(label: str, url: str) -> Source:
    """A card source, built (and checked) once per label and citation URL."""
    return Source(label=label, url=url)


def build_card(
    finding: Finding, *, knowledge: Knowledge, hook_instance: str, patient_id: str | None, framing: str | None = None
) -> Card:
    """The CDS Hooks card for one finding."""
    rule = knowledge.cards.rules[finding.rule_id]
    summary = rule.summary.format_map(_Blank(finding.summary))
    first_citation = knowledge.citations[_citation_ids(rule, finding)[0]]
    suggestions = _suggestions(finding, knowledge, hook_instance, patient_id)
    return Card(
        uuid=stable_uuid(hook_instance, finding.rule_id, "card"),
        summary=fit_summary(plain_text(summary), framing),
        detail=_detail(finding, rule, knowledge),
        indicator=finding.indicator,
        source=_source(knowledge.cards.source_label, first_citation.url),
        override_reasons=_override_reasons(knowledge),
        extension={CARD_EXTENSION: CardProvenance(rule_id=finding.rule_id, knowledge_version=knowledge.version)},
        suggestions=suggestions or None,
        selection_behavior=SelectionBehavior.ANY if suggestions else None,
    )


def build_cards(
    findings: Iterable[Finding],
    *,
    knowledge: Knowledge,
    hook_instance: str,
    patient_id: str | None,
    framing: str | None = None,
) -> list[Card]:
    """Cards for findings already in display order."""
    return [
        build_card(f, knowledge=knowledge, hook_instance=hook_instance, patient_id=patient_id, framing=framing)
        for f in findings
    ]
