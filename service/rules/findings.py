"""What a rule hands to the card builder: one actionable finding, already ranked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from cds_hooks import Indicator as Indicator  # the card's indicator, the one declaration the rules use

# Higher is more urgent: the order findings (and so cards) are shown in.
URGENCY: Mapping[Indicator, int] = MappingProxyType({Indicator.INFO: 0, Indicator.WARNING: 1, Indicator.CRITICAL: 2})


class Category(StrEnum):
    """What kind of finding, in card order for equal severity."""

    LAB = "lab"
    DRUG = "drug"
    EXPOSURE = "exposure"
    CONDITION = "condition"  # issue 25: a treatable disease with a card of its own (nerve hyperexcitability)
    RED_FLAG = "red_flag"
    WORKUP = "workup"

    @property
    def rank(self) -> int:
        """Lower is shown first."""
        return list(Category).index(self)


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Finding:
    """One actionable finding: the rule id, its severity, summary values, Markdown evidence and labs to offer."""

    rule_id: str
    category: Category
    indicator: Indicator
    summary: Mapping[str, str] = field(default_factory=_empty)
    facts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    orders: tuple[str, ...] = ()
    citations: tuple[str, ...] = ()
    priority: int = 0
    reversible: bool = True  # a reversible cause actually found (lets the screen speak without fasciculations)
    action: str | None = None  # replaces the rule's suggested next step when the evidence calls for another one
    safety: bool = False  # a patient-safety warning (succinylcholine after denervation): speaks in every mode
    cause: str = ""  # a short name of the reversible cause, for the red-flag card ("low magnesium")

    def with_summary(self, **values: str) -> Finding:
        """A copy with some summary values replaced."""
        return replace(self, summary=MappingProxyType({**self.summary, **values}))

    def with_notes(self, *notes: str) -> Finding:
        """A copy with extra notes."""
        return replace(self, notes=(*self.notes, *notes))


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first; then by priority, category and rule id so the order is stable."""
    return sorted(findings, key=lambda f: (-URGENCY[f.indicator], f.priority, f.category.rank, f.rule_id))
