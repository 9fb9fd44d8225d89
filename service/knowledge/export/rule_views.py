"""Each rule of the loaded knowledge as a reviewer reads it: when it speaks, what it says, its thresholds with units,
the value sets it reads, the labs it offers, its sources. The PlanDefinitions and the knowledge book both use it.

The rule ids are the loader's (``expected_rule_ids``, the keys of cards.yaml); the wording is cards.yaml's; every
number is the knowledge file's. Nothing here is a second source: it only arranges what was loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.knowledge.base import Knowledge
from service.knowledge.card_text import CardRule
from service.knowledge.export.valuesets import analyte_set_id, condition_set_id, drug_set_id
from service.knowledge.loader import (
    DENERVATION_GROUP,
    DENERVATION_RULE,
    LITHIUM_TOXIC_RULE,
    RED_FLAGS_RULE,
    WORKUP_RULE,
)
from service.knowledge.models import Analyte, ConditionRole, Workup

PATIENT_VIEW = "patient-view"
ORDER_HOOKS = ("order-select", "order-sign")
MODES = (
    "The screen speaks fully for documented fasciculations; for ALS/MND, MS or peripheral neuropathy without them it "
    "speaks only for a reversible cause actually found; otherwise it is silent (a safety card excepted)."
)


@dataclass(frozen=True)
class RuleView:
    """One rule, arranged for review and export."""

    rule: CardRule
    hooks: tuple[str, ...]
    when: str
    thresholds: tuple[str, ...]
    value_sets: tuple[str, ...]  # ValueSet ids the rule reads
    orders: tuple[str, ...]  # analyte ids the card may offer to order

    @property
    def id(self) -> str:
        """The rule id (as in cards.yaml and every card's footer)."""
        return self.rule.id

    @property
    def condition(self) -> str:
        """When the rule speaks, with its thresholds."""
        return " ".join((self.when, *(f"{line}." for line in self.thresholds)))


def _number(value: float) -> str:
    return f"{value:g}"


def analyte_thresholds(analyte: Analyte) -> tuple[str, ...]:
    """An analyte's numbers, each with its unit and its source note."""
    unit, rng = analyte.canonical_unit, analyte.fallback_range
    low = _number(rng.low) if rng.low is not None else "open"
    high = _number(rng.high) if rng.high is not None else "open"
    lines = [f"{analyte.display}: fall-back range {low}-{high} {unit} ({analyte.range_source})"]
    for label, value in (("critical below", analyte.critical_low), ("critical at or above", analyte.critical_high)):
        if value is not None:
            lines.append(
                f"{analyte.display}: {label} {_number(value)} {unit} ({analyte.critical_source or 'labs.yaml'})"
            )
    if analyte.alert_high is not None:
        lines.append(f"{analyte.display}: abnormal at or above {_number(analyte.alert_high)} {unit}")
    lines.append(f"{analyte.display}: a result counts for {analyte.lookback_days} days")
    return tuple(lines)


def _lab_view(rule: CardRule, knowledge: Knowledge) -> tuple[str, tuple[str, ...], list[Analyte]]:
    finding, direction = rule.id.split(".")[1:3]
    analytes = [a for a in knowledge.analytes.values() if a.finding == finding]
    names = " or ".join(a.display for a in analytes)
    if rule.id == LITHIUM_TOXIC_RULE:
        when = f"The latest {names} result is at or above the critical level (a toxic level)."
    else:
        when = (
            f"The latest {names} result is {direction}: by the laboratory's own flag or range when it sent one, else "
            "by the fall-back range of the knowledge, after conversion to the canonical unit."
        )
    thresholds = tuple(line for a in analytes for line in analyte_thresholds(a))
    return when, thresholds, analytes


def _drug_view(rule: CardRule, knowledge: Knowledge) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    group_id = DENERVATION_GROUP if rule.id == DENERVATION_RULE else rule.id.removeprefix("drug.")
    group = knowledge.drug_group(group_id)
    limits = []
    if group.recently_stopped_days:
        limits.append(f"stopped within {group.recently_stopped_days} days counts")
    if group.recent_hours:
        limits.append(f"given within {group.recent_hours} hours counts")
    if group.min_duration_days:
        limits.append(f"taken for at least {group.min_duration_days} days")
    use = "A recent stop of" if group.withdrawal_only else "Current (or recent) use of"
    when = f"{use} {group.display} is on record (evidence: {group.evidence})."
    sets: tuple[str, ...] = (drug_set_id(group.id),)
    if rule.id == DENERVATION_RULE:
        den, shown = knowledge.denervation, {s.id: s.display for s in knowledge.condition_sets}
        weak = " or ".join(shown[s] for s in den.weakness)
        when += (
            f" Together with denervation on record: {', '.join(shown[s] for s in den.always)}; or "
            f"{', '.join(shown[s] for s in den.with_weakness)} with current {weak}."
        )
        sets = sets + tuple(condition_set_id(s) for s in (*den.always, *den.with_weakness, *den.weakness))
    return when, tuple(f"{group.display}: {limit}" for limit in limits), sets


def _exposure_view(rule: CardRule, knowledge: Knowledge) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    set_id = rule.id.split(".")[1]
    item = next(s for s in knowledge.condition_sets if s.id == set_id)
    toxicity = knowledge.nicotinic_toxicity
    if toxicity is not None and rule.id.count(".") == 2:
        when = (
            f"{item.display} recorded within {toxicity.window_days} days (or undated) with documented fasciculations."
        )
        return when, (f"{item.display}: within {toxicity.window_days} days",), (condition_set_id(set_id),)
    return f"{item.display} is on record.", (), (condition_set_id(set_id),)


def _workup_analytes(knowledge: Knowledge) -> list[Analyte]:
    return [a for a in knowledge.analytes.values() if a.workup != Workup.NONE]


def _red_flags_view(knowledge: Knowledge) -> tuple[str, tuple[str, ...]]:
    sets = knowledge.sets_with_role(ConditionRole.RED_FLAG)
    when = (
        "Documented fasciculations with one of these signs on record (problem list or examination): "
        f"{', '.join(s.display for s in sets)}."
    )
    return when, tuple(condition_set_id(s.id) for s in sets)


def rule_view(rule: CardRule, knowledge: Knowledge) -> RuleView:
    """One rule of cards.yaml, arranged for review and export."""
    silent = rule.id in knowledge.orders.silent_rules
    hooks = (PATIENT_VIEW,) if silent else (PATIENT_VIEW, *ORDER_HOOKS)
    thresholds: tuple[str, ...] = ()
    orders = rule.labs
    if rule.id == RED_FLAGS_RULE:
        when, sets = _red_flags_view(knowledge)
    elif rule.id == WORKUP_RULE:
        analytes = _workup_analytes(knowledge)
        when = "Documented fasciculations and a work-up lab missing, stale or unreadable: " + ", ".join(
            f"{a.display} ({a.workup.value}, {a.lookback_days} days)" for a in analytes
        )
        sets, orders = tuple(analyte_set_id(a.id) for a in analytes), tuple(a.id for a in analytes)
    elif rule.id.startswith("lab."):
        when, thresholds, analytes = _lab_view(rule, knowledge)
        sets = tuple(analyte_set_id(a.id) for a in analytes)
    elif rule.id.startswith("drug."):
        when, thresholds, sets = _drug_view(rule, knowledge)
    else:
        when, thresholds, sets = _exposure_view(rule, knowledge)
    return RuleView(rule, hooks, when, thresholds, sets, orders)


def rule_views(knowledge: Knowledge) -> list[RuleView]:
    """Every rule, in the order of cards.yaml."""
    return [rule_view(rule, knowledge) for rule in knowledge.cards.rules.values()]
