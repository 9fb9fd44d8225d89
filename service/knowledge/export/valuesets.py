"""One computable ValueSet per code group of the loaded knowledge: labs per analyte, drug groups, condition sets
(signs among them), the answers that mean a sign is absent, the pregnancy-status question, and the order triggers.

Codes are listed as ``compose.include.concept``; a code-prefix match of the screen (ATC classes, ICD-10-CM
categories) is an ``is-a`` filter on that code, which includes the code itself. Text matches are no codes: a value
set names them in its description. A code system's release is pinned where citations.yaml records the release a
group's cited source was checked against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.knowledge.base import Knowledge
from service.knowledge.condition_models import ConditionSet
from service.knowledge.export import canon
from service.knowledge.models import Analyte, DrugGroup
from service.knowledge.order_rules import OrderTrigger

Resource = dict[str, Any]


@dataclass(frozen=True)
class Include:
    """The codes of one code system in a value set: listed codes (with displays where known) and is-a prefixes."""

    system: str
    codes: Mapping[str, str | None]
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeGroup:
    """One group of codes the screen matches, as it becomes a ValueSet."""

    id: str
    title: str
    description: str
    citations: tuple[str, ...]
    includes: tuple[Include, ...]


def analyte_set_id(analyte_id: str) -> str:
    """The ValueSet id of an analyte's LOINC codes."""
    return canon.resource_id("lab", analyte_id)


def drug_set_id(group_id: str) -> str:
    """The ValueSet id of a drug group."""
    return canon.resource_id("drug", group_id)


def condition_set_id(set_id: str) -> str:
    """The ValueSet id of a condition set."""
    return canon.resource_id("condition", set_id)


def order_set_id(trigger_id: str) -> str:
    """The ValueSet id of an order trigger."""
    return canon.resource_id("order", trigger_id)


def _analyte(analyte: Analyte) -> CodeGroup:
    codes = {code: analyte.order.display if code == analyte.order.loinc else None for code in analyte.loinc}
    return CodeGroup(
        analyte_set_id(analyte.id),
        f"{analyte.display}: laboratory results",
        f"LOINC codes read as {analyte.display} (canonical unit {analyte.canonical_unit}).",
        analyte.citations,
        (Include(canon.LOINC_SYSTEM, codes),),
    )


def _drug(group: DrugGroup) -> CodeGroup:
    rxnorm: dict[str, str | None] = {**group.ingredients, **group.products}
    includes = (
        Include(canon.RXNORM_SYSTEM, rxnorm),
        Include(canon.ATC_SYSTEM, dict.fromkeys(group.atc), group.atc_prefixes),
    )
    return CodeGroup(
        drug_set_id(group.id),
        f"{group.display}: medications",
        f"{group.display} ({group.kind.value}): RxNorm ingredients and products, WHO ATC codes and classes. "
        f"Also matched by name: {', '.join(group.names[:12])}{' ...' if len(group.names) > 12 else ''}.",
        group.citations,
        includes,
    )


def _condition(item: ConditionSet) -> CodeGroup:
    text = f" Also matched by text: {', '.join(item.text)}." if item.text else ""
    includes = (
        Include(canon.SNOMED_SYSTEM, dict.fromkeys(item.snomed)),
        Include(canon.ICD10CM_SYSTEM, dict.fromkeys(item.icd10cm), item.icd10cm_prefixes),
    )
    return CodeGroup(
        condition_set_id(item.id),
        f"{item.display}: conditions and signs",
        f"{item.display} (role {item.role.value}): SNOMED CT and ICD-10-CM codes.{text}",
        item.citations,
        includes,
    )


def _trigger(trigger: OrderTrigger) -> CodeGroup:
    cpt = {str(code): None for low, high in trigger.cpt_ranges for code in range(low, high + 1)}
    includes = (
        Include(canon.CPT_SYSTEM, cpt),
        Include(canon.SNOMED_SYSTEM, dict.fromkeys(trigger.snomed)),
        Include(canon.RXNORM_SYSTEM, dict(trigger.rxnorm)),
        Include(canon.ATC_SYSTEM, dict.fromkeys(trigger.atc)),
    )
    return CodeGroup(
        order_set_id(trigger.id),
        f"{trigger.display}: orders",
        f"{trigger.resource} orders read as {trigger.display}. Also matched by text: {', '.join(trigger.text)}.",
        trigger.citations,
        includes,
    )


def _observed(knowledge: Knowledge) -> list[CodeGroup]:
    signs = knowledge.observed_signs
    if signs is None:
        return []
    absent = (
        Include(canon.SNOMED_SYSTEM, dict.fromkeys(signs.absent_codes)),
        Include(canon.V3_INTERPRETATION_SYSTEM, dict.fromkeys(signs.absent_interpretations)),
    )
    status = (Include(canon.LOINC_SYSTEM, dict.fromkeys((*signs.question_loinc, *signs.answers))),)
    return [
        CodeGroup(
            "sign-absent",
            "Answers that mean a charted sign is absent",
            f"Observation values and interpretations read as absent; also the words {', '.join(signs.absent_words)}.",
            signs.citations,
            absent,
        ),
        CodeGroup(
            "pregnancy-status",
            "Pregnancy status question and answers",
            "The LOINC question of a charted pregnancy status and the answers read as pregnant.",
            signs.citations,
            status,
        ),
    ]


def code_groups(knowledge: Knowledge) -> list[CodeGroup]:
    """Every code group of the knowledge, in a fixed order (labs, drugs, conditions, observed signs, orders)."""
    return [
        *(_analyte(a) for a in knowledge.analytes.values()),
        *(_drug(g) for g in knowledge.drug_groups),
        *(_condition(s) for s in knowledge.condition_sets),
        *_observed(knowledge),
        *(_trigger(t) for t in knowledge.orders.triggers),
    ]


def _include(include: Include, version: str | None) -> list[Resource]:
    pinned = {"version": version} if version else {}
    parts: list[Resource] = []
    if include.codes:
        concepts = [{"code": code, **({"display": shown} if shown else {})} for code, shown in include.codes.items()]
        parts.append({"system": include.system, **pinned, "concept": concepts})
    for prefix in include.prefixes:
        parts.append(
            {"system": include.system, **pinned, "filter": [{"property": "concept", "op": "is-a", "value": prefix}]}
        )
    return parts


def _version(knowledge: Knowledge, system: str, citations: Sequence[str]) -> str | None:
    checked = knowledge.code_systems.get(system)
    return checked.version if checked is not None and checked.citation in citations else None


def value_set(group: CodeGroup, knowledge: Knowledge, common: Mapping[str, Any]) -> Resource:
    """The ValueSet of one code group (``common``: url base, version, status, publisher)."""
    includes = [
        part for inc in group.includes for part in _include(inc, _version(knowledge, inc.system, group.citations))
    ]
    return {
        "resourceType": "ValueSet",
        "id": group.id,
        "url": f"{common['base']}/ValueSet/{group.id}",
        "version": knowledge.version,
        "name": canon.computable_name(group.id),
        "title": group.title,
        "status": common["status"],
        "publisher": common["publisher"],
        "description": group.description,
        "compose": {"include": includes},
    }


def value_sets(knowledge: Knowledge, common: Mapping[str, Any]) -> Iterable[Resource]:
    """Every ValueSet of the knowledge (a group without any code is left out: the screen matches it by text only)."""
    for group in code_groups(knowledge):
        if any(inc.codes or inc.prefixes for inc in group.includes):
            yield value_set(group, knowledge, common)
