"""order-select and order-sign: the screen's own findings at the moment an order may put twitching down to progression.

Same facts, rules and card builder as patient-view (``service.screen.evaluate``, ``service.cards.build_card``);
only which findings speak and how their summaries are framed depend on the orders (orders.yaml).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from cds_hooks import Card, HookRequest, HookResponse, Prefetched, ServiceDefinition
from service.cards import build_card
from service.facts import build_facts
from service.knowledge import DENERVATION_GROUP, DENERVATION_RULE, LITHIUM_TOXIC_RULE, Knowledge
from service.knowledge_model import DrugKind
from service.orders import OrderRole, RecognisedOrder, as_signed, recognise_orders
from service.reading import conform_bundle
from service.records import PatientRecord, build_record
from service.rules.conditions import ScreenMode
from service.rules.findings import Finding
from service.screen import evaluate
from service.skip_log import skip_log

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
ORDER_HOOKS = ("order-select", "order-sign")
# The lithium rule speaks as any of these (service/rules/medications.py lithium_finding).
LITHIUM_RULES = ("drug.lithium", "lab.lithium.high", LITHIUM_TOXIC_RULE)


def _culprit_rules(orders: Sequence[RecognisedOrder], knowledge: Knowledge) -> set[str]:
    groups = {o.key for o in orders if o.role == OrderRole.CULPRIT}
    rules = {f"drug.{group}" for group in groups}
    if any(knowledge.drug_group(group).kind == DrugKind.LITHIUM for group in groups):
        rules.update(LITHIUM_RULES)
    if DENERVATION_GROUP in groups:
        rules.add(DENERVATION_RULE)  # succinylcholine after denervation: the critical card, not "expected"
    return rules


def _framed(
    finding: Finding, culprit_rules: set[str], trigger_framing: str | None, knowledge: Knowledge
) -> tuple[Finding, str] | None:
    """(finding, framing) for one finding, or None when it stays silent at this order."""
    if finding.safety and finding.rule_id in culprit_rules:
        return finding.with_summary(status=knowledge.orders.culprit_status), knowledge.orders.safety_framing
    if finding.rule_id in culprit_rules:
        group_id = finding.rule_id.removeprefix("drug.")
        if group_id != finding.rule_id and knowledge.drug_group(group_id).kind == DrugKind.DIRECT:
            # A new culprit order: the drug is "ordered now", not "active" (lithium keeps its level status).
            finding = finding.with_summary(status=knowledge.orders.culprit_status)
        return finding, knowledge.orders.culprit_framing
    if trigger_framing is None or finding.rule_id in knowledge.orders.silent_rules:
        return None
    return finding, trigger_framing


def order_cards(
    orders: Sequence[RecognisedOrder],
    record: PatientRecord,
    *,
    now: dt.datetime,
    hook_instance: str,
    knowledge: Knowledge,
) -> list[Card]:
    """Cards for a patient with documented fasciculations: trigger orders frame the screen, culprit drugs their own."""
    culprits = [as_signed(o, now, record.patient_id) for o in orders if o.role == OrderRole.CULPRIT]
    signed = replace(record, medication_requests=(*record.medication_requests, *culprits))
    facts = build_facts(signed, now=now, knowledge=knowledge)
    mode, findings = evaluate(facts, knowledge)
    culprit_rules = _culprit_rules(orders, knowledge)
    triggers = {t.id: t.framing for t in knowledge.orders.triggers}
    trigger_framing = next((triggers[o.key] for o in orders if o.role == OrderRole.TRIGGER), None)
    if mode != ScreenMode.FULL:  # fasciculations not documented: only a safety warning about this order speaks
        findings, trigger_framing = [f for f in findings if f.safety and f.rule_id in culprit_rules], None
    framed = [item for f in findings if (item := _framed(f, culprit_rules, trigger_framing, knowledge))]
    return [
        build_card(f, knowledge=knowledge, hook_instance=hook_instance, patient_id=facts.patient_id, framing=frame)
        for f, frame in framed
    ]


def order_handler(knowledge: Knowledge, clock: Clock) -> Callable[[HookRequest, Prefetched], HookResponse]:
    """The order-select / order-sign handler: prefetched patient + draft orders -> recognised orders -> cards."""

    def handle(request: HookRequest, prefetched: Prefetched) -> HookResponse:
        with skip_log(request.hook_instance):
            return _order_response(request, prefetched)

    def _order_response(request: HookRequest, prefetched: Prefetched) -> HookResponse:
        # draftOrders go through the same tolerant reader as prefetch (Sandbox: category as an object, no type).
        drafts = conform_bundle(request.context["draftOrders"])
        selections = request.context.get("selections") if request.hook == "order-select" else None
        record = build_record(v for v in prefetched.values() if v is not None)
        with_drafts = replace(record, medications={**record.medications, **build_record([drafts]).medications})
        orders = recognise_orders(drafts, selections, with_drafts, knowledge)
        cards = (
            order_cards(orders, with_drafts, now=clock(), hook_instance=request.hook_instance, knowledge=knowledge)
            if orders
            else []
        )
        keys = ",".join(f"{o.role}:{o.key}" for o in orders) or "-"
        log.info("hookInstance=%s hook=%s orders=%s cards=%d", request.hook_instance, request.hook, keys, len(cards))
        return HookResponse(cards=tuple(cards))

    return handle


def order_service_definitions(
    service_ids: Mapping[str, str], prefetch: dict[str, str], knowledge: Knowledge, clock: Clock
) -> list[ServiceDefinition]:
    """order-select and order-sign, each under its own id, with the patient-view prefetch (draft orders: context)."""
    description = (
        "For a patient with documented fasciculations, at an EMG / nerve conduction study, a neurology referral or "
        "an ALS/MS disease-modifying treatment order: the reversible causes still open (labs missing, stale or "
        "abnormal, culprit drugs), framed for the order. At a new order for a drug that itself causes "
        "fasciculations (lithium, beta-2 agonists, stimulants, cholinesterase inhibitors, succinylcholine): what to "
        "monitor. Silent for other orders."
    )
    usage = "Needs the same read access as patient-view; draftOrders must be a Bundle of R4 request resources."
    return [
        ServiceDefinition(
            id=service_ids[hook],
            hook=hook,
            title=f"Fasciculations: reversible causes before this order ({hook})",
            description=description,
            prefetch=prefetch,
            handler=order_handler(knowledge, clock),
            usage_requirements=usage,
        )
        for hook in ORDER_HOOKS
    ]
