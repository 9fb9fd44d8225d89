"""Cross-reference checks between the knowledge files: ids unique, every citation, lab, drug group and condition set
that one file names exists in another, text templates use only the fields they are given."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any

from service.knowledge.condition_models import ConditionsFile
from service.knowledge.models import Citation, ConditionRole, DrugGroup, MedicationsFile, Parathyroid


class KnowledgeError(Exception):
    """A knowledge file is missing, malformed or refers to something that does not exist."""


def unique(kind: str, ids: Iterable[str]) -> None:
    """Refuse a repeated id of one kind."""
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise KnowledgeError(f"duplicate {kind} id {item!r}")
        seen.add(item)


def check_refs(where: str, kind: str, refs: Iterable[str], known: Mapping[str, Any]) -> None:
    """Refuse a reference to something ``known`` does not hold."""
    for ref in refs:
        if ref not in known:
            raise KnowledgeError(f"{where}: unknown {kind} {ref!r}")


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields a text template uses."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise KnowledgeError(f"bad template {template!r}: {exc}") from exc


def check_drugs_and_conditions(
    meds: MedicationsFile, conditions: ConditionsFile, citations: Mapping[str, Citation], analytes: Mapping[str, Any]
) -> None:
    """Drug groups and condition sets: unique ids, and everything they name exists."""
    unique("drug group", (g.id for g in meds.groups))
    unique("condition set", (s.id for s in conditions.sets))
    for group in meds.groups:
        check_refs(f"medications.yaml {group.id}", "citation", group.citations, citations)
        check_refs(f"medications.yaml {group.id}", "lab", group.labs, analytes)
    check_refs("conditions.yaml status_citations", "citation", conditions.status_citations, citations)
    for item in conditions.sets:
        check_refs(f"conditions.yaml {item.id}", "citation", item.citations, citations)
        check_refs(f"conditions.yaml {item.id}", "lab", item.labs, analytes)
    denervation, sets = conditions.denervation, {s.id: s for s in conditions.sets}
    _check_issue15_refs(meds, sets, citations, analytes)
    where = "conditions.yaml denervation"
    check_refs(where, "condition set", (*denervation.always, *denervation.with_weakness, *denervation.weakness), sets)
    check_refs(where, "citation", denervation.citations, citations)
    _check_issue15(meds, conditions, citations, analytes)


def _check_issue15(
    meds: MedicationsFile, conditions: ConditionsFile, citations: Mapping[str, Citation], analytes: Mapping[str, Any]
) -> None:
    """Signs read from Observations, steady-state timing, onset lead and nicotinic toxicity refer to known things."""
    sets, groups = {s.id: s for s in conditions.sets}, {g.id: g for g in meds.groups}
    signs = conditions.observed_signs
    check_refs("conditions.yaml observed_signs", "condition set", (*signs.sets, *signs.questions.values()), sets)
    check_refs("conditions.yaml observed_signs answers", "condition set", signs.answers.values(), sets)
    check_refs("conditions.yaml observed_signs", "citation", signs.citations, citations)
    toxicity = conditions.nicotinic_toxicity
    if sets.get(toxicity.exposure) is None or sets[toxicity.exposure].role != ConditionRole.EXPOSURE:
        raise KnowledgeError(f"conditions.yaml nicotinic_toxicity: {toxicity.exposure!r} is not an exposure set")
    check_refs("conditions.yaml nicotinic_toxicity", "citation", toxicity.citations, citations)
    for item in meds.steady_state:
        check_refs("medications.yaml steady_state", "drug group", (item.group,), groups)
        check_refs("medications.yaml steady_state", "lab", (item.lab,), analytes)
        check_refs("medications.yaml steady_state", "citation", item.citations, citations)
    check_refs("medications.yaml onset_lead", "citation", meds.onset_lead.citations, citations)


def _check_issue15_refs(
    meds: MedicationsFile, sets: Mapping[str, Any], citations: Mapping[str, Citation], analytes: Mapping[str, Any]
) -> None:
    """Lithium context, lab follow-ups and condition-gated labs refer to things that exist (issue 15)."""
    context, where = meds.lithium_context, "medications.yaml lithium_context"
    groups = {g.id: g for g in meds.groups}
    check_refs(where, "drug group", context.interacting_groups, groups)
    check_refs(where, "lab", (*context.renal_labs.keys(), *context.monitoring_labs), analytes)
    check_refs(where, "citation", context.citations, citations)
    check_refs(where, "condition set", context.raising_conditions, sets)
    for analyte in analytes.values():
        check_refs(f"labs.yaml {analyte.id} follow_up", "lab", analyte.follow_up, analytes)
        check_refs(f"labs.yaml {analyte.id} needed_only_with", "condition set", analyte.needed_only_with, sets)


def check_parathyroid(
    parathyroid: Parathyroid, analytes: Mapping[str, Any], groups: Iterable[DrugGroup], citations: Mapping[str, Any]
) -> None:
    """labs.yaml parathyroid: its PTH analyte, drug groups and citations exist (issue 25)."""
    check_refs("labs.yaml parathyroid", "lab", (parathyroid.pth,), analytes)
    check_refs("labs.yaml parathyroid", "drug group", parathyroid.calcium_raising_groups, {g.id: g for g in groups})
    check_refs("labs.yaml parathyroid", "citation", parathyroid.citations, citations)
