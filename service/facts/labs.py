"""Observations -> the latest usable result per analyte, in the unit it was reported and the analyte's canonical one.

Raw JSON dicts are pre-filtered by LOINC code through the precompiled index; only the candidates are parsed with
``fhir.resources.R4B`` models through the gate (``service.facts.gate``), newest first, until one can be read.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.observation import Observation

from service.facts.code_index import FactIndex, as_list, fact_index
from service.facts.dates import parse_instant
from service.facts.gate import read_model
from service.facts.lab_shapes import StatedQuantity, quantity_in_text, with_components
from service.facts.numbers import converted_text, decimals_for_unit, reported_text
from service.facts.records import Resource
from service.facts.units import to_canonical, ucum_code
from service.knowledge.models import ValueRange

if TYPE_CHECKING:
    from service.knowledge import Knowledge

LOINC_SYSTEM = "http://loinc.org"
FINAL_OBSERVATION_STATUS = frozenset({"final", "amended", "corrected"})
PRELIMINARY_STATUS = "preliminary"
# Preliminary results count (labelled, lower confidence) unless a final one is at least as new; cancelled and
# entered-in-error never count.
USABLE_OBSERVATION_STATUS = FINAL_OBSERVATION_STATUS | {PRELIMINARY_STATUS}


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
    canonical_text: str | None = None  # the canonical value as displayed (service.facts.numbers), when understood
    # For a preliminary latest result: the newest readable final one before it (a newer preliminary never hides an
    # older final result that is worse; issue 22). None for a final result.
    earlier_final: LabResult | None = None

    @property
    def unit_understood(self) -> bool:
        """Whether the value could be put in the analyte's canonical unit (else it is uninterpretable)."""
        return self.canonical is not None


# The elements the rules read (plus those R4 requires): only these are parsed and validated by fhir.resources,
# so an unrelated element (an encounter reference, a narrative) neither costs time nor discards a usable result.
OBSERVATION_ELEMENTS = frozenset(
    {
        "resourceType",
        "id",
        "status",
        "code",
        "valueQuantity",
        "valueString",  # a number with its unit written as text (service.facts.lab_shapes)
        "valueCodeableConcept",  # a qualitative result ("Positive") of an analyte the screen never judges
        "effectiveDateTime",
        "effectiveInstant",
        "effectivePeriod",
        "issued",
        "referenceRange",
        "interpretation",
    }
)


def is_one_of(value: Any, allowed: frozenset[str]) -> bool:
    """Membership that tolerates any JSON value (lists and objects are simply not members)."""
    return isinstance(value, str) and value in allowed


def observation_effective(raw: Resource) -> dt.datetime | None:
    """When an Observation was drawn: effective[x], else the start of its period, else when it was issued."""
    period = raw.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return parse_instant(raw.get("effectiveDateTime") or raw.get("effectiveInstant") or start or raw.get("issued"))


def _lab_candidates(
    observations: Iterable[Resource], index: FactIndex
) -> dict[str, list[tuple[dt.datetime, str, Resource]]]:
    found: dict[str, list[tuple[dt.datetime, str, Resource]]] = {}
    for raw in observations:
        if not is_one_of(raw.get("status"), USABLE_OBSERVATION_STATUS):
            continue
        code = raw.get("code")
        for coding in as_list(code.get("coding")) if isinstance(code, dict) else ():
            if not isinstance(coding, dict) or coding.get("system") != LOINC_SYSTEM:
                continue
            code_value = coding.get("code")
            analyte = index.loinc.get(code_value) if isinstance(code_value, str) else None
            effective = observation_effective(raw) if analyte else None
            if analyte and effective:
                found.setdefault(analyte, []).append((effective, str(coding["code"]), raw))
                break
    return found


def _quantity_value(quantity: Any) -> tuple[float, str | None, str | None] | None:
    if quantity is None or quantity.value is None:
        return None
    return float(quantity.value), quantity.code, quantity.unit


def _shown_number(model: Any, stated: StatedQuantity | None, decimals: int) -> tuple[str, str]:
    """(the number at reported precision, the same with its comparator) from valueQuantity or a valueString."""
    if stated is not None:
        written = stated.text.lstrip("<>=")
        comparator = stated.text[: len(stated.text) - len(written)]
    else:
        written, comparator = model.valueQuantity.value, model.valueQuantity.comparator or ""
    number = reported_text(written, decimals)
    return number, f"{comparator}{number}"


def _reference(model: Any, aliases: Mapping[str, str]) -> tuple[ValueRange, str | None]:
    for item in model.referenceRange or ():
        low, high = _quantity_value(item.low), _quantity_value(item.high)
        if low or high:
            source = low or high
            assert source is not None
            unit = ucum_code(source[1], source[2], aliases)
            return ValueRange(low=low[0] if low else None, high=high[0] if high else None), unit
    return ValueRange(), None


def _interpretation(model: Any) -> tuple[str, ...]:
    return tuple(c.code for concept in model.interpretation or () for c in concept.coding or () if c.code)


def lab_result(
    analyte_id: str, loinc: str, effective: dt.datetime, raw: Resource, knowledge: Knowledge
) -> LabResult | None:
    """One Observation as a LabResult in the analyte's canonical unit, or None when the gate skips it."""
    model = read_model(Observation, raw, OBSERVATION_ELEMENTS, (f"lab.{analyte_id}",))
    if model is None:
        return None
    quantity = _quantity_value(model.valueQuantity)
    stated = quantity_in_text(model.valueString) if quantity is None else None
    if stated is not None:
        quantity = (stated.value, None, stated.unit)
    if quantity is None:
        return _qualitative(analyte_id, loinc, effective, raw, model, knowledge)
    value, code, unit_text = quantity
    unit = ucum_code(code, unit_text, knowledge.unit_aliases)
    reference, reference_unit = _reference(model, knowledge.unit_aliases)
    analyte = knowledge.analyte(analyte_id)
    canonical = to_canonical(value, unit, analyte, knowledge.unit_aliases)
    per_unit = to_canonical(1.0, unit, analyte, knowledge.unit_aliases)
    number, value_text = _shown_number(model, stated, decimals_for_unit(analyte.decimals, per_unit))
    return LabResult(
        analyte_id,
        loinc,
        value,
        value_text,
        unit,
        canonical,
        effective,
        reference,
        reference_unit,
        _interpretation(model),
        preliminary=raw.get("status") == PRELIMINARY_STATUS,
        canonical_text=None if canonical is None else converted_text(canonical, analyte.decimals, number),
    )


def _qualitative(
    analyte_id: str, loinc: str, effective: dt.datetime, raw: Resource, model: Any, knowledge: Knowledge
) -> LabResult | None:
    """A coded or written result ("Positive", "1:40") of a qualitative screen (labs.yaml ``qualitative``: CASPR2,
    LGI1): kept as reported so the card shows it instead of offering the test again; None for any other analyte."""
    if not knowledge.analyte(analyte_id).qualitative:
        return None
    concept = model.valueCodeableConcept
    codings = [c for c in (concept.coding or ()) if c.display or c.code] if concept is not None else []
    written = concept.text if concept is not None and concept.text else None
    written = written or (codings[0].display or codings[0].code if codings else None) or model.valueString
    if not isinstance(written, str) or not written.strip():
        return None
    reference, reference_unit = _reference(model, knowledge.unit_aliases)
    return LabResult(
        analyte_id,
        loinc,
        math.nan,
        written.strip(),
        None,
        None,
        effective,
        reference,
        reference_unit,
        _interpretation(model),
        preliminary=raw.get("status") == PRELIMINARY_STATUS,
    )


def latest_labs(observations: Iterable[Resource], knowledge: Knowledge) -> dict[str, LabResult]:
    """The newest usable result per analyte (with the final one before it when it is preliminary), parsed lazily."""
    latest: dict[str, LabResult] = {}
    # Panel components (a blood gas's ionised calcium) are candidates of their own (service.facts.lab_shapes).
    for analyte_id, candidates in _lab_candidates(with_components(observations), fact_index(knowledge)).items():
        # Newest first; at the same instant a final result comes before a preliminary one.
        candidates.sort(key=lambda item: (item[0], item[2].get("status") != PRELIMINARY_STATUS), reverse=True)
        results = (lab_result(analyte_id, loinc, effective, raw, knowledge) for effective, loinc, raw in candidates)
        newest = next((result for result in results if result is not None), None)
        if newest is not None and newest.preliminary:
            final = next((result for result in results if result is not None and not result.preliminary), None)
            newest = replace(newest, earlier_final=final)
        if newest is not None:
            latest[analyte_id] = newest
    return latest
