"""order-select and order-sign: the screen's own findings at the moment an order may put twitching down to progression.

Same facts, rules and card builder as patient-view (``service.screen.evaluate``, ``service.cards.build_card``);
only which findings speak and how their summaries are framed depend on the orders (orders.yaml).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence

from cds_hooks import Card, HookRequest, HookResponse, Prefetched, ServiceDefinition
from service.cards import build_card
from service.facts import build_facts
from service.facts.records import PatientRecord
from service.facts.skip_log import skip_log
from service.knowledge import Knowledge
from service.orders import OrderRole, RecognisedOrder, recognise_orders
from service.prefetch_keys import patient_in_context, prefetched_record
from service.rules.conditions import ScreenMode
from service.rules.findings import Finding
from service.screen import evaluate

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
ORDER_HOOKS = ("order-select", "order-sign")


def _culprit_rules(orders: Sequence[RecognisedOrder], knowledge: Knowledge) -> tuple[set[str], set[str]]:
    """(rules the culprit orders speak as, those whose drug status reads "ordered now"): orders.yaml culprits."""
    by_group = {item.group: item for item in knowledge.orders.culprits}
    culprits = [by_group[o.key] for o in orders if o.role == OrderRole.CULPRIT]
    return {r for c in culprits for r in c.rules}, {r for c in culprits for r in c.ordered_now}


def _framed(
    finding: Finding, culprit_rules: tuple[set[str], set[str]], trigger_framing: str | None, knowledge: Knowledge
) -> tuple[Finding, str] | None:
    """(finding, framing) for one finding, or None when it stays silent at this order."""
    speaks, ordered_now = culprit_rules
    if finding.rule_id in speaks:
        if finding.rule_id in ordered_now:  # a new order: the drug is "ordered now", not "active"
            finding = finding.with_summary(status=knowledge.orders.culprit_status)
        return finding, knowledge.orders.safety_framing if finding.safety else knowledge.orders.culprit_framing
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
    signed = tuple(use for o in orders for use in o.uses)
    facts = build_facts(record, now=now, knowledge=knowledge, signed_orders=signed)
    mode, findings = evaluate(facts, knowledge)
    culprit_rules = _culprit_rules(orders, knowledge)
    triggers = {t.id: t.framing for t in knowledge.orders.triggers}
    trigger_framing = next((triggers[o.key] for o in orders if o.role == OrderRole.TRIGGER), None)
    if mode != ScreenMode.FULL:  # fasciculations not documented: only a safety warning about this order speaks
        findings, trigger_framing = [f for f in findings if f.safety and f.rule_id in culprit_rules[0]], None
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
        drafts = request.context["draftOrders"]
        selections = request.context.get("selections") if request.hook == "order-select" else None
        record = prefetched_record(prefetched, patient_in_context(request), draft_orders=drafts)
        now = clock()
        orders = recognise_orders(record, selections, now, knowledge)
        cards = (
            order_cards(orders, record, now=now, hook_instance=request.hook_instance, knowledge=knowledge)
            if orders
            else []
        )
        keys = ",".join(f"{o.role}:{o.key}" for o in orders) or "-"
        log.info("hookInstance=%s hook=%s orders=%s cards=%d", request.hook_instance, request.hook, keys, len(cards))
        return HookResponse(cards=tuple(cards))

    return handle


def order_service_definitions(
    service_ids: Mapping[str, str], patient_view: ServiceDefinition, knowledge: Knowledge, clock: Clock
) -> list[ServiceDefinition]:
    """order-select and order-sign, each under its own id, resolving prefetch exactly as ``patient_view`` does."""
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
            prefetch=patient_view.prefetch,
            pages_enough=patient_view.pages_enough,
            optional_prefetch=patient_view.optional_prefetch,
            handler=order_handler(knowledge, clock),
            usage_requirements=usage,
        )
        for hook in ORDER_HOOKS
    ]
