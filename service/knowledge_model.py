"""Typed, immutable knowledge records: what service/knowledge/*.yaml become once validated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Direction(StrEnum):
    """Which side of the range a result falls on."""

    LOW = "low"
    HIGH = "high"


class Workup(StrEnum):
    """Whether a lab belongs to the standard twitching work-up."""

    CORE = "core"
    BUNDLED = "bundled"
    NONE = "none"


class DrugKind(StrEnum):
    """How a drug group relates to fasciculations."""

    LITHIUM = "lithium"
    DIRECT = "direct"
    ELECTROLYTE = "electrolyte"
    THYROID = "thyroid"


class ConditionRole(StrEnum):
    """What a condition set means for the screen."""

    TRIGGER = "trigger"
    DISEASE = "disease"
    CONTEXT = "context"
    EXPOSURE = "exposure"
    RED_FLAG = "red_flag"
    DENERVATION = "denervation"


@dataclass(frozen=True)
class Citation:
    """A public source."""

    id: str
    title: str
    url: str
    accessed: dt.date
    via: str


@dataclass(frozen=True)
class ValueRange:
    """A low/high pair in one unit; either side may be open."""

    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class OrderCode:
    """The LOINC code to order for an analyte."""

    loinc: str
    display: str


@dataclass(frozen=True)
class Analyte:
    """One laboratory concept: its LOINC set, unit data, ranges, thresholds and look-back window."""

    id: str
    display: str
    short: str
    loinc: tuple[str, ...]
    order: OrderCode
    canonical_unit: str
    fallback_range: ValueRange
    range_source: str
    flag: tuple[Direction, ...]
    workup: Workup
    lookback_days: int
    citations: tuple[str, ...]
    finding: str | None = None
    critical_low: float | None = None
    critical_high: float | None = None
    alert_high: float | None = None
    molar_mass: float | None = None  # g/mol, for mass <-> mole conversion
    valence: int | None = None  # charge, for mole <-> equivalent conversion
    unit_aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    critical_source: str | None = None
    alternative_to: str | None = None  # a recent result of this analyte answers the need for that one


@dataclass(frozen=True)
class CorrectionFormula:
    """Corrected Ca = Ca + factor x (reference_albumin - albumin), in one unit system."""

    factor: float
    reference_albumin: float
    calcium_unit: str
    albumin_unit: str
    decimals: int


@dataclass(frozen=True)
class AlbuminCorrection:
    """Both unit systems of the albumin correction and the allowed gap between the draws."""

    conventional: CorrectionFormula
    si: CorrectionFormula
    max_gap_hours: int
    citations: tuple[str, ...]


@dataclass(frozen=True)
class DrugGroup:
    """A class of drugs matched by RxNorm, ATC or name."""

    id: str
    display: str
    kind: DrugKind
    evidence: str
    ingredients: Mapping[str, str]
    products: Mapping[str, str]
    atc: tuple[str, ...]
    atc_prefixes: tuple[str, ...]
    names: tuple[str, ...]
    labs: tuple[str, ...]
    citations: tuple[str, ...]
    min_duration_days: int | None = None
    recently_stopped_days: int | None = None
    recent_hours: int | None = None
    speaks_without_fasciculation: bool = True


@dataclass(frozen=True)
class ConditionSet:
    """A clinical concept matched by SNOMED CT, ICD-10-CM (exact or prefix) or text."""

    id: str
    display: str
    role: ConditionRole
    snomed: tuple[str, ...]
    icd10cm: tuple[str, ...]
    icd10cm_prefixes: tuple[str, ...]
    text: tuple[str, ...]
    labs: tuple[str, ...]
    citations: tuple[str, ...]


@dataclass(frozen=True)
class Denervation:
    """Condition sets that make succinylcholine dangerous: alone, or only together with weakness."""

    always: tuple[str, ...]
    with_weakness: tuple[str, ...]
    weakness: tuple[str, ...]
    citations: tuple[str, ...]


@dataclass(frozen=True)
class OverrideReason:
    """An override reason offered on every card."""

    code: str
    display: str


@dataclass(frozen=True)
class CardRule:
    """The wording of one rule's card."""

    id: str
    summary: str
    why: str
    action: str
    labs: tuple[str, ...]
    citations: tuple[str, ...]


@dataclass(frozen=True)
class ThyroidPattern:
    """The reading of one TSH direction / free T4 state pair."""

    label: str
    note: str


@dataclass(frozen=True)
class CardText:
    """All card wording: source, override reasons, shared phrases, per-rule texts and thyroid patterns."""

    source_label: str
    override_reason_system: str
    override_reasons: tuple[OverrideReason, ...]
    phrases: Mapping[str, str]
    rules: Mapping[str, CardRule]
    thyroid_patterns: Mapping[str, ThyroidPattern] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class OrderTrigger:
    """An order that marks the moment twitching may be put down to progression (EMG, referral, DMT change)."""

    id: str
    display: str
    resource: str  # "ServiceRequest" | "MedicationRequest"
    framing: str
    cpt_ranges: tuple[tuple[int, int], ...]
    snomed: tuple[str, ...]
    rxnorm: Mapping[str, str]
    atc: tuple[str, ...]
    text: tuple[str, ...]
    citations: tuple[str, ...]


@dataclass(frozen=True)
class OrderKnowledge:
    """What the order hooks recognise: trigger orders, culprit drug groups, and their framing."""

    triggers: tuple[OrderTrigger, ...]
    culprit_groups: tuple[str, ...]
    culprit_framing: str
    culprit_status: str
    silent_rules: tuple[str, ...]
    safety_framing: str = "Order safety"


def frozen_map(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of a mapping."""
    return MappingProxyType(dict(value))
