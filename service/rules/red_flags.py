"""Red flags (bmj-mnd-2022): weakness, wasting, bulbar signs, hyperreflexia are not explained by a reversible cause."""

from __future__ import annotations

from service.facts import PatientFacts
from service.knowledge import RED_FLAGS_RULE, Knowledge
from service.knowledge_model import ConditionRole
from service.rules import text
from service.rules.findings import Category, Finding, Indicator


def red_flag_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """One card listing every current red flag; it points to neurology/EMG and names no diagnosis."""
    flags = facts.conditions_with(ConditionRole.RED_FLAG)
    if not flags:
        return None
    displays = {s.id: s.display for s in knowledge.sets_with_role(ConditionRole.RED_FLAG)}
    names = list(dict.fromkeys(displays[f.set_id].lower() for f in flags))
    lines = tuple(
        f"{f.name}"
        + (f", recorded {text.date(f.recorded)}" if f.recorded else "")
        + (" (recognised by text only: please confirm)" if f.confidence == "text" else "")
        for f in flags
    )
    return Finding(
        rule_id=RED_FLAGS_RULE,
        category=Category.RED_FLAG,
        indicator=Indicator.WARNING,
        summary={"flags": ", ".join(names)},
        facts=lines,
        reversible=False,
    )
