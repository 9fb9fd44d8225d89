"""orders.yaml as records: the orders the order hooks recognise, and how each one frames the screen's findings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from service.knowledge.models import Codes, NonBlank, Record, Required, StrMap


class OrderTrigger(Record):
    """An order that marks the moment twitching may be put down to progression (EMG, referral, DMT change)."""

    id: NonBlank
    display: NonBlank
    resource: Literal["ServiceRequest", "MedicationRequest"]
    framing: NonBlank
    cpt_ranges: tuple[tuple[int, int], ...] = ()
    snomed: Codes = ()
    rxnorm: StrMap = {}
    atc: Codes = ()
    text: Required
    citations: Required

    @field_validator("cpt_ranges", mode="before")
    @classmethod
    def _cpt_ranges(cls, value: Any) -> Any:
        """CPT ranges written "95860-95872" (inclusive) as (low, high) pairs."""
        return tuple(_cpt_range(item) for item in value) if isinstance(value, list) else value


def _cpt_range(text: Any) -> tuple[int, int]:
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) != 2 or not all(len(part) == 5 and part.isdigit() for part in parts):
        raise ValueError(f"{text!r} must be a CPT range such as 95860-95872")
    low, high = int(parts[0]), int(parts[1])
    if low > high:
        raise ValueError(f"CPT range {text} runs backwards")
    return low, high


class CulpritOrder(Record):
    """A drug group whose new order gets its own card: the rules it speaks as, and which say "ordered now"."""

    group: NonBlank
    rules: Required  # every rule the drug's finding can carry (lithium: the drug card and both level cards)
    ordered_now: Codes = ()  # rules whose drug status reads as culprit_status (not lithium: it keeps its level)


class OrderKnowledge(Record):
    """orders.yaml: what the order hooks recognise, trigger orders and culprit drugs, and their framing."""

    triggers: Annotated[tuple[OrderTrigger, ...], Field(min_length=1)]
    culprits: Annotated[tuple[CulpritOrder, ...], Field(min_length=1)]
    culprit_framing: NonBlank
    culprit_status: NonBlank
    safety_framing: NonBlank
    silent_rules: Codes = ()

    @property
    def culprit_groups(self) -> tuple[str, ...]:
        """The drug groups whose new orders count as culprits."""
        return tuple(item.group for item in self.culprits)
