"""One PlanDefinition (type eca-rule) per rule per hook, and one ActivityDefinition per lab a card may order.

Shape after CPG-on-FHIR and the FHIR cdshooksserviceplandefinition profile (CDS Hooks 3.0 "CDS on FHIR"): the
``cqf-cdsHooksEndpoint`` extension names the service, the action's trigger is the hook (a named event), its
applicability condition says in words when the rule speaks, its inputs are the value sets it reads, its title,
description and text equivalent are the card's summary, why and action, and each suggested order is a sub-action
defined by an ActivityDefinition. The card wording keeps its ``{placeholders}``: the screen fills them per patient.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.knowledge.base import Knowledge
from service.knowledge.export import canon
from service.knowledge.export.rule_views import MODES, RuleView
from service.knowledge.models import Analyte

Resource = dict[str, Any]
ENDPOINT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/cqf-cdsHooksEndpoint"
PLAN_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
DATA_TYPES = {"lab": "Observation", "drug": "MedicationRequest", "condition": "Condition", "order": "ServiceRequest"}


def activity_id(analyte_id: str) -> str:
    """The ActivityDefinition id of the order of one lab."""
    return canon.resource_id("order", analyte_id)


def plan_id(rule_id: str, hook: str) -> str:
    """The PlanDefinition id of one rule in one hook."""
    return canon.resource_id(rule_id, hook)


def plan_file(rule_id: str, hook: str) -> str:
    """The package file of one rule's PlanDefinition in one hook."""
    return canon.file_name("PlanDefinition", plan_id(rule_id, hook))


def activity_definition(analyte: Analyte, knowledge: Knowledge, common: Mapping[str, Any]) -> Resource:
    """The proposal to order one lab, as the cards' order suggestions make it (a ServiceRequest)."""
    identifier = activity_id(analyte.id)
    return {
        "resourceType": "ActivityDefinition",
        "id": identifier,
        "url": f"{common['base']}/ActivityDefinition/{identifier}",
        "version": knowledge.version,
        "name": canon.computable_name(identifier),
        "title": f"Order {analyte.display}",
        "status": common["status"],
        "publisher": common["publisher"],
        "description": knowledge.cards.phrases["order_reason"],
        "kind": "ServiceRequest",
        "intent": "proposal",
        "code": {
            "coding": [{"system": canon.LOINC_SYSTEM, "code": analyte.order.loinc, "display": analyte.order.display}]
        },
    }


def _input(set_id: str, base: str) -> Resource:
    kind = set_id.split("-", 1)[0]
    return {
        "type": DATA_TYPES.get(kind, "Observation"),
        "codeFilter": [{"path": "code", "valueSet": f"{base}/ValueSet/{set_id}"}],
    }


def _order_actions(view: RuleView, knowledge: Knowledge, base: str) -> list[Resource]:
    return [
        {
            "title": knowledge.cards.phrases["order_one"].format(lab=knowledge.analyte(lab).display),
            "definitionCanonical": f"{base}/ActivityDefinition/{activity_id(lab)}",
        }
        for lab in view.orders
    ]


def _action(view: RuleView, hook: str, knowledge: Knowledge, base: str) -> Resource:
    rule = view.rule
    action: Resource = {
        "title": rule.summary,
        "description": rule.why,
        "textEquivalent": rule.action,
        "documentation": [_documentation(c, knowledge) for c in rule.citations],
        "trigger": [{"type": "named-event", "name": hook}],
        "condition": [
            {
                "kind": "applicability",
                "expression": {"description": MODES, "language": "text/plain", "expression": view.condition},
            }
        ],
        "input": [_input(set_id, base) for set_id in view.value_sets],
    }
    orders = _order_actions(view, knowledge, base)
    if orders:
        action["selectionBehavior"] = "any"
        action["action"] = orders
    return action


def _documentation(citation_id: str, knowledge: Knowledge) -> Resource:
    citation = knowledge.citations[citation_id]
    return {"type": "citation", "label": citation.id, "display": citation.title, "url": citation.url}


def plan_definition(
    view: RuleView, hook: str, service_id: str, knowledge: Knowledge, common: Mapping[str, Any]
) -> Resource:
    """The PlanDefinition of one rule in one hook."""
    identifier = plan_id(view.id, hook)
    base = common["base"]
    return {
        "resourceType": "PlanDefinition",
        "id": identifier,
        "extension": [{"url": ENDPOINT_EXTENSION, "valueUri": f"cds-services/{service_id}"}],
        "url": f"{base}/PlanDefinition/{identifier}",
        "version": knowledge.version,
        "name": canon.computable_name(identifier),
        "title": f"{view.id} ({hook})",
        "type": {"coding": [{"system": PLAN_TYPE_SYSTEM, "code": "eca-rule", "display": "ECA Rule"}]},
        "status": common["status"],
        "publisher": common["publisher"],
        "description": f"Rule {view.id} of the fasciculation screen in the {hook} hook. When: {view.when}",
        "library": [f"{base}/Library/{common['library']}"],
        "action": [_action(view, hook, knowledge, base)],
    }


def plan_definitions(
    views: Iterable[RuleView], service_ids: Mapping[str, str], knowledge: Knowledge, common: Mapping[str, Any]
) -> Iterable[Resource]:
    """Every rule's PlanDefinition in each hook it speaks in."""
    for view in views:
        for hook in view.hooks:
            yield plan_definition(view, hook, service_ids[hook], knowledge, common)


def activity_definitions(
    views: Iterable[RuleView], knowledge: Knowledge, common: Mapping[str, Any]
) -> Iterable[Resource]:
    """One ActivityDefinition per lab any rule may order, in the order of labs.yaml."""
    ordered = {lab for view in views for lab in view.orders}
    for analyte in knowledge.analytes.values():
        if analyte.id in ordered:
            yield activity_definition(analyte, knowledge, common)
