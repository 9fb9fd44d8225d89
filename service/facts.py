"""FHIR resources -> PatientFacts: latest valid labs in known units, relevant medications and conditions.

Raw JSON dicts are pre-filtered by code through precompiled lookups; only the candidates a rule needs are parsed
with ``fhir.resources.R4B`` models, on the elements the rules read only (``service.reading.read_model``). A
candidate whose needed element cannot be read is skipped and tallied into the request's one log line (resource
type, element, rules; never patient data).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation

from service.fact_index import FactIndex, Match, as_list, fact_index
from service.knowledge import Knowledge
from service.knowledge_model import ConditionRole, ValueRange
from service.medication_facts import MedicationUse, UseStatus, medication_uses
from service.reading import read_model
from service.records import PatientRecord, Resource
from service.skip_log import note_skip
from service.units import parse_instant, to_canonical, ucum_code

log = logging.getLogger(__name__)

LOINC_SYSTEM = "http://loinc.org"
FINAL_OBSERVATION_STATUS = frozenset({"final", "amended", "corrected"})
PRELIMINARY_STATUS = "preliminary"
# Preliminary results count (labelled, lower confidence) unless a final one is at least as new; cancelled and
# entered-in-error never count.
USABLE_OBSERVATION_STATUS = FINAL_OBSERVATION_STATUS | {PRELIMINARY_STATUS}
CURRENT_CLINICAL_STATUS = frozenset({"active", "recurrence", "relapse"})
# A disease in remission (relapsing-remitting MS between relapses) is still the patient's diagnosis.
CURRENT_DISEASE_STATUS = CURRENT_CLINICAL_STATUS | {"remission"}
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})

__all__ = ["ConditionFact", "LabResult", "MedicationUse", "PatientFacts", "UseStatus", "build_facts"]


class Confidence(StrEnum):
    """How a fact was recognised."""

    CODE = "code"
    TEXT = "text"


@dataclass(frozen=True)
class LabResult:
    """The latest valid result of one analyte, as reported and in the canonical unit."""

    analyte: str
    loinc: str
    value: float
    value_text: str
    unit: str | None
    canonical: float | None
    effective: dt.datetime
    reference: ValueRange
    reference_unit: str | None
    interpretation: tuple[str, ...]
    preliminary: bool = False

    @property
    def unit_understood(self) -> bool:
        """Whether the value could be put in the analyte's canonical unit (else it is uninterpretable)."""
        return self.canonical is not None


@dataclass(frozen=True)
class ConditionFact:
    """A current condition that belongs to one knowledge set."""

    set_id: str
    role: ConditionRole
    name: str
    recorded: dt.datetime | None
    confidence: Confidence


@dataclass(frozen=True)
class PatientFacts:
    """A typed snapshot of one patient at ``now``."""

    now: dt.datetime
    patient_id: str | None
    labs: Mapping[str, LabResult]
    medications: tuple[MedicationUse, ...]
    conditions: tuple[ConditionFact, ...]

    def latest(self, analyte: str) -> LabResult | None:
        """The latest valid result of an analyte, however old."""
        return self.labs.get(analyte)

    def recent(self, analyte: str, days: int) -> LabResult | None:
        """The latest valid result when drawn within ``days`` of now."""
        result = self.labs.get(analyte)
        if result is None or self.now - result.effective > dt.timedelta(days=days):
            return None
        return result

    def conditions_with(self, role: ConditionRole) -> tuple[ConditionFact, ...]:
        """Current conditions of one role."""
        return tuple(item for item in self.conditions if item.role == role)

    def uses_of(self, group: str) -> tuple[MedicationUse, ...]:
        """Medication uses of one drug group."""
        return tuple(use for use in self.medications if use.group == group)


# The elements the rules read (plus those R4 requires): only these are parsed and validated by fhir.resources,
# so an unrelated element (an encounter reference, a narrative) neither costs time nor discards a usable result.
OBSERVATION_ELEMENTS = frozenset(
    {
        "resourceType",
        "id",
        "status",
        "code",
        "valueQuantity",
        "effectiveDateTime",
        "effectiveInstant",
        "effectivePeriod",
        "issued",
        "referenceRange",
        "interpretation",
    }
)
CONDITION_ELEMENTS = frozenset(
    {"resourceType", "id", "code", "subject", "clinicalStatus", "verificationStatus", "onsetDateTime", "recordedDate"}
)


def _warn_skipped(resource_type: str, rules: Iterable[str]) -> None:
    note_skip(resource_type, ("(resource)",), rules)


def _observation_effective(raw: Resource) -> dt.datetime | None:
    period = raw.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return parse_instant(raw.get("effectiveDateTime") or raw.get("effectiveInstant") or start or raw.get("issued"))


def _lab_candidates(
    observations: Iterable[Resource], index: FactIndex
) -> dict[str, list[tuple[dt.datetime, str, Resource]]]:
    found: dict[str, list[tuple[dt.datetime, str, Resource]]] = {}
    for raw in observations:
        if not _is_one_of(raw.get("status"), USABLE_OBSERVATION_STATUS):
            continue
        code = raw.get("code")
        for coding in as_list(code.get("coding")) if isinstance(code, dict) else ():
            if not isinstance(coding, dict) or coding.get("system") != LOINC_SYSTEM:
                continue
            code_value = coding.get("code")
            analyte = index.loinc.get(code_value) if isinstance(code_value, str) else None
            effective = _observation_effective(raw) if analyte else None
            if analyte and effective:
                found.setdefault(analyte, []).append((effective, str(coding["code"]), raw))
                break
    return found


def _quantity_value(quantity: Any) -> tuple[float, str | None, str | None] | None:
    if quantity is None or quantity.value is None:
        return None
    return float(quantity.value), quantity.code, quantity.unit


def _value_text(quantity: Any) -> str:
    comparator = quantity.comparator or ""
    return f"{comparator}{quantity.value}"


def _reference(model: Any, aliases: Mapping[str, str]) -> tuple[ValueRange, str | None]:
    for item in model.referenceRange or ():
        low, high = _quantity_value(item.low), _quantity_value(item.high)
        if low or high:
            source = low or high
            assert source is not None
            unit = ucum_code(source[1], source[2], aliases)
            return ValueRange(low[0] if low else None, high[0] if high else None), unit
    return ValueRange(), None


def _interpretation(model: Any) -> tuple[str, ...]:
    return tuple(c.code for concept in model.interpretation or () for c in concept.coding or () if c.code)


def _lab_result(
    analyte_id: str, loinc: str, effective: dt.datetime, raw: Resource, knowledge: Knowledge
) -> LabResult | None:
    model = read_model(Observation, raw, OBSERVATION_ELEMENTS, (f"lab.{analyte_id}",))
    if model is None:
        return None
    quantity = _quantity_value(model.valueQuantity)
    if quantity is None:
        return None
    value, code, unit_text = quantity
    unit = ucum_code(code, unit_text, knowledge.unit_aliases)
    reference, reference_unit = _reference(model, knowledge.unit_aliases)
    canonical = to_canonical(value, unit, knowledge.analyte(analyte_id), knowledge.unit_aliases)
    return LabResult(
        analyte_id,
        loinc,
        value,
        _value_text(model.valueQuantity),
        unit,
        canonical,
        effective,
        reference,
        reference_unit,
        _interpretation(model),
        preliminary=raw.get("status") == PRELIMINARY_STATUS,
    )


def latest_labs(observations: Iterable[Resource], knowledge: Knowledge) -> dict[str, LabResult]:
    """The newest usable result per analyte; only candidates are parsed, newest first, until one is valid."""
    latest: dict[str, LabResult] = {}
    for analyte_id, candidates in _lab_candidates(observations, fact_index(knowledge)).items():
        # Newest first; at the same instant a final result comes before a preliminary one.
        candidates.sort(key=lambda item: (item[0], item[2].get("status") != PRELIMINARY_STATUS), reverse=True)
        for effective, loinc, raw in candidates:
            try:
                result = _lab_result(analyte_id, loinc, effective, raw, knowledge)
            except Exception:  # any model failure means a malformed resource: skip it, never a 500
                _warn_skipped("Observation", {f"lab.{analyte_id}"})
                continue
            if result is not None:
                latest[analyte_id] = result
                break
    return latest


def _is_one_of(value: Any, allowed: frozenset[str]) -> bool:
    """Membership that tolerates any JSON value (lists and objects are simply not members)."""
    return isinstance(value, str) and value in allowed


def _status_code(concept: Any) -> str | None:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return None
    codes = (c.get("code") for c in concept["coding"] if isinstance(c, dict))
    return next((code for code in codes if isinstance(code, str) and code), None)


def _is_current(raw: Resource, roles: Iterable[ConditionRole]) -> bool:
    clinical = _status_code(raw.get("clinicalStatus"))
    allowed = CURRENT_DISEASE_STATUS if ConditionRole.DISEASE in roles else CURRENT_CLINICAL_STATUS
    if clinical is not None and clinical not in allowed:
        return False
    return _status_code(raw.get("verificationStatus")) not in EXCLUDED_VERIFICATION


def _condition_facts(raw: Resource, matches: tuple[Match, ...], knowledge: Knowledge) -> list[ConditionFact]:
    model = read_model(Condition, raw, CONDITION_ELEMENTS, (f"condition.{m.key}" for m in matches))
    if model is None:
        return []
    name = (model.code.text if model.code else None) or next(
        (c.display for c in (model.code.coding if model.code else None) or () if c.display), None
    )
    recorded = parse_instant(raw.get("onsetDateTime") or raw.get("recordedDate"))
    roles = {item.id: item for item in knowledge.condition_sets}
    return [
        ConditionFact(m.key, roles[m.key].role, name or roles[m.key].display, recorded, Confidence(m.confidence))
        for m in matches
    ]


def _by_currency(
    raw: Resource, matches: tuple[Match, ...], roles: Mapping[str, ConditionRole]
) -> list[tuple[Match, ...]]:
    """The matches for which this Condition is current (a remission still counts for a disease)."""
    current = tuple(m for m in matches if _is_current(raw, (roles[m.key],)))
    return [current] if current else []


def current_conditions(conditions: Iterable[Resource], knowledge: Knowledge) -> list[ConditionFact]:
    """Current, non-refuted conditions that match a knowledge set."""
    index = fact_index(knowledge)
    roles = {item.id: item.role for item in knowledge.condition_sets}
    facts: list[ConditionFact] = []
    for raw in conditions:
        matches = index.match_condition(raw.get("code"))
        for role_matches in _by_currency(raw, matches, roles):
            facts.extend(_condition_facts(raw, role_matches, knowledge))
    return facts


def build_facts(record: PatientRecord, *, now: dt.datetime, knowledge: Knowledge) -> PatientFacts:
    """Everything the rules read about one patient."""
    return PatientFacts(
        now=now,
        patient_id=record.patient_id,
        labs=latest_labs(record.observations, knowledge),
        medications=tuple(medication_uses(record, knowledge)),
        conditions=tuple(current_conditions(record.conditions, knowledge)),
    )
