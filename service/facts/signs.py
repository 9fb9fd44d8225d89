"""Observations -> signs charted as findings (fasciculations, weakness, bulbar signs on exam; a pregnancy status).

Many EHRs chart the neurological examination as Observations (category ``exam``), coded SNOMED CT in ``code`` or in
``valueCodeableConcept``, not on the problem list. The newest usable Observation about a condition set decides
whether the sign is present (conditions.yaml ``observed_signs``); a present one within the set's look-back becomes a
``ConditionFact`` like a Condition would, so every rule reads both alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.observation import Observation

from service.facts.code_index import SNOMED_SYSTEM, Confidence, FactIndex, as_list, fact_index, flatten_concepts
from service.facts.conditions import ConditionFact
from service.facts.gate import read_model
from service.facts.labs import LOINC_SYSTEM, USABLE_OBSERVATION_STATUS, is_one_of, observation_effective
from service.facts.records import Resource

if TYPE_CHECKING:
    from service.knowledge import Knowledge
    from service.knowledge.condition_models import ObservedSigns

SIGN_ELEMENTS = frozenset(
    {
        "resourceType",
        "id",
        "status",
        "code",
        "valueCodeableConcept",
        "valueBoolean",
        "valueString",
        "effectiveDateTime",
        "effectiveInstant",
        "effectivePeriod",
        "issued",
        "interpretation",
        "dataAbsentReason",
    }
)


@dataclass(frozen=True)
class SignReading:
    """What one Observation says about one condition set."""

    set_id: str
    present: bool
    effective: dt.datetime
    raw: Resource
    by_text: bool


def _codes(concept: Any, system: str) -> set[str]:
    flat = flatten_concepts([concept])
    return {code.strip() for sys, code in flat.codings if sys == system}


def _words(concept: Any) -> set[str]:
    return {text.strip().lower() for text in flatten_concepts([concept]).texts}


def says_absent(raw: Resource, signs: ObservedSigns) -> bool:
    """Whether an Observation about a sign says it is absent (false, Absent, negative, normal, or no value at all)."""
    value, interpretations = raw.get("valueCodeableConcept"), as_list(raw.get("interpretation"))
    if raw.get("valueBoolean") is False:
        return True
    if isinstance(value, dict) and (
        _codes(value, SNOMED_SYSTEM) & set(signs.absent_codes)
        or (not _codes(value, SNOMED_SYSTEM) and _words(value) & set(signs.absent_words))
    ):
        return True
    text = raw.get("valueString")
    if isinstance(text, str) and text.strip().lower() in signs.absent_words:
        return True
    flags = {code for item in interpretations for _, code in flatten_concepts([item]).codings}
    if flags & set(signs.absent_interpretations):
        return True
    return "dataAbsentReason" in raw and not any(key.startswith("value") for key in raw)


def _question(raw: Resource, signs: ObservedSigns) -> str | None:
    return next((signs.questions[c] for c in _codes(raw.get("code"), LOINC_SYSTEM) if c in signs.questions), None)


def _readings(raw: Resource, index: FactIndex, signs: ObservedSigns) -> Iterator[tuple[str, bool, bool]]:
    """(set id, present, recognised by text only) for each observed set this Observation is about."""
    value = raw.get("valueCodeableConcept")
    question = _question(raw, signs)
    if question is not None:  # pregnancy status: the answer names the state (or another one)
        answers = {m.key for m in index.match_condition(value)} if isinstance(value, dict) else set()
        answers |= {signs.answers[c] for c in _codes(value, LOINC_SYSTEM) if c in signs.answers}
        yield question, question in answers and not says_absent(raw, signs), False
        return
    by_code = [m for m in index.match_condition(raw.get("code")) if m.key in signs.sets]
    matches = by_code or ([m for m in index.match_condition(value) if m.key in signs.sets] if value else [])
    for match in matches:
        present = not says_absent(raw, signs) if by_code else not _negative(raw, signs)
        yield match.key, present, match.confidence == Confidence.TEXT


def _negative(raw: Resource, signs: ObservedSigns) -> bool:
    """For a finding named in the value (a generic exam row): only an interpretation (NEG, N) can deny it."""
    flags = {code for item in as_list(raw.get("interpretation")) for _, code in flatten_concepts([item]).codings}
    return bool(flags & set(signs.absent_interpretations))


def sign_readings(observations: Iterable[Resource], knowledge: Knowledge) -> list[SignReading]:
    """Every usable, dated Observation's reading of an observed set (quantities are lab results, not signs)."""
    signs, index = knowledge.observed_signs, fact_index(knowledge)
    if signs is None:
        return []
    found: list[SignReading] = []
    for raw in observations:
        if "valueQuantity" in raw or not is_one_of(raw.get("status"), USABLE_OBSERVATION_STATUS):
            continue
        readings = list(_readings(raw, index, signs))
        effective = observation_effective(raw) if readings else None
        if effective is not None:
            found += [SignReading(key, present, effective, raw, text) for key, present, text in readings]
    return found


def _name(raw: Resource, knowledge: Knowledge, set_id: str) -> str:
    """The sign's own words: from the concept that named the set (value or code), else the set's display."""
    index = fact_index(knowledge)
    for concept in (raw.get("valueCodeableConcept"), raw.get("code")):
        if isinstance(concept, dict) and any(m.key == set_id for m in index.match_condition(concept)):
            texts = flatten_concepts([concept]).texts
            if texts:
                return texts[0]
    return next(item.display for item in knowledge.condition_sets if item.id == set_id)


def observed_signs(observations: Iterable[Resource], knowledge: Knowledge, now: dt.datetime) -> list[ConditionFact]:
    """The observed sets present now: the newest readable Observation about each says present, within look-back.

    Exam findings (fhir-observation-category ``exam``) are read like Conditions; an answer meaning absent
    (mcode-present-absent 2667000, ``false``, NEG/N) never counts; a pregnancy status follows us-core-pregnancy-status.
    """
    signs = knowledge.observed_signs
    by_set: dict[str, list[SignReading]] = {}
    for reading in sign_readings(observations, knowledge):
        by_set.setdefault(reading.set_id, []).append(reading)
    roles = {item.id: item.role for item in knowledge.condition_sets}
    facts: list[ConditionFact] = []
    for set_id, readings in by_set.items():
        readings.sort(key=lambda item: item.effective, reverse=True)
        newest = next((r for r in readings if _readable(r, set_id)), None)
        if newest is None or not newest.present or signs is None:
            continue
        if now - newest.effective > dt.timedelta(days=signs.sets[set_id]):
            continue
        confidence = Confidence.TEXT if newest.by_text else Confidence.CODE
        name = _name(newest.raw, knowledge, set_id)
        facts.append(ConditionFact(set_id, roles[set_id], name, newest.effective, confidence, observed=True))
    return facts


def _readable(reading: SignReading, set_id: str) -> bool:
    """Whether the elements the sign rules read can be read (an unreadable one is tallied, and the next decides)."""
    return read_model(Observation, reading.raw, SIGN_ELEMENTS, (f"sign.{set_id}",)) is not None
