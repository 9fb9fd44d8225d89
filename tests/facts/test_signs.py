"""service/facts/signs.py: exam-finding and pregnancy-status Observations read as conditions (conditions.yaml
observed_signs): the newest readable Observation about a sign decides, an answer meaning absent never counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from service.facts.code_index import SNOMED_SYSTEM, Confidence
from service.facts.labs import LOINC_SYSTEM
from service.facts.signs import observed_signs, says_absent
from service.knowledge import ConditionRole, load_knowledge
from tests.conftest import NOW

KNOWLEDGE = load_knowledge()
SIGNS = KNOWLEDGE.observed_signs
assert SIGNS is not None
SETS = {item.id: item for item in KNOWLEDGE.condition_sets}
FASCICULATION, WEAKNESS = SETS["fasciculation"].snomed[0], SETS["weakness"].snomed[0]
ABSENT = SIGNS.absent_codes[0]
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _concept(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    return {**concept, "text": text} if text else concept


def _obs(code: dict[str, Any], days: float = 10, status: str = "final", **value: Any) -> dict[str, Any]:
    """An exam Observation ``days`` before NOW."""
    when = (NOW - dt.timedelta(days=days)).isoformat()
    return {"resourceType": "Observation", "status": status, "code": code, "effectiveDateTime": when, **value}


def _sets(*observations: dict[str, Any]) -> dict[str, Any]:
    return {fact.set_id: fact for fact in observed_signs(list(observations), KNOWLEDGE, NOW)}


def test_a_charted_sign_is_a_condition_of_its_set() -> None:
    """A final Observation coded as fasciculation is the trigger condition, recorded at its date, read from exam."""
    found = _sets(_obs(_concept(SNOMED_SYSTEM, FASCICULATION), valueBoolean=True))
    fact = found["fasciculation"]
    assert (fact.role, fact.observed, fact.confidence) == (ConditionRole.TRIGGER, True, Confidence.CODE)
    assert fact.recorded == NOW - dt.timedelta(days=10)


def test_an_answer_meaning_absent_never_counts() -> None:
    """false, an 'absent' SNOMED CT answer, an absent word, a NEG interpretation or no value at all: not present."""
    code = _concept(SNOMED_SYSTEM, FASCICULATION)
    absent = [
        {"valueBoolean": False},
        {"valueCodeableConcept": _concept(SNOMED_SYSTEM, ABSENT)},
        {"valueString": SIGNS.absent_words[0].upper()},
        {"interpretation": [_concept(INTERPRETATION, SIGNS.absent_interpretations[0])]},
        {"dataAbsentReason": {"text": "not asked"}},
    ]
    for value in absent:
        assert says_absent(_obs(code, **value), SIGNS), value
        assert _sets(_obs(code, **value)) == {}, value


def test_the_newest_reading_decides() -> None:
    """Present last month but absent yesterday: absent; absent last month, present yesterday: present."""
    code = _concept(SNOMED_SYSTEM, WEAKNESS)
    present, absent = {"valueBoolean": True}, {"valueBoolean": False}
    assert _sets(_obs(code, days=30, **present), _obs(code, days=1, **absent)) == {}
    assert "weakness" in _sets(_obs(code, days=30, **absent), _obs(code, days=1, **present))


def test_outside_the_look_back_unusable_or_quantities_are_not_signs() -> None:
    """Older than the set's look-back, entered in error, or a quantity (a lab result): nothing."""
    code = _concept(SNOMED_SYSTEM, FASCICULATION)
    assert _sets(_obs(code, days=SIGNS.sets["fasciculation"] + 1, valueBoolean=True)) == {}
    assert _sets(_obs(code, status="entered-in-error", valueBoolean=True)) == {}
    assert _sets(_obs(code, valueQuantity={"value": 1, "unit": "1"})) == {}


def test_a_generic_exam_row_names_the_sign_in_its_value() -> None:
    """An exam row whose value is the finding counts; only an absent interpretation denies it there."""
    row = {"text": "Neurological examination"}
    value = _concept(SNOMED_SYSTEM, WEAKNESS, "Proximal weakness")
    found = _sets(_obs(row, valueCodeableConcept=value))
    assert found["weakness"].name == "Proximal weakness"
    negative = [_concept(INTERPRETATION, SIGNS.absent_interpretations[0])]
    assert _sets(_obs(row, valueCodeableConcept=value, interpretation=negative)) == {}


def test_text_only_signs_are_flagged_as_such() -> None:
    """A sign recognised only by its words carries text confidence (the card asks to confirm it)."""
    found = _sets(_obs({"text": SETS["fasciculation"].text[0]}, valueBoolean=True))
    assert found["fasciculation"].confidence == Confidence.TEXT


def test_a_pregnancy_status_answer_decides_pregnancy() -> None:
    """LOINC pregnancy status answered 'Pregnant' is a current pregnancy; answered 'Not pregnant' is not."""
    (question,) = SIGNS.question_loinc
    (pregnant,) = SIGNS.answers
    status = _concept(LOINC_SYSTEM, question)
    assert "pregnancy" in _sets(_obs(status, valueCodeableConcept=_concept(LOINC_SYSTEM, pregnant)))
    not_pregnant = _concept(SNOMED_SYSTEM, SIGNS.absent_codes[-1])
    assert _sets(_obs(status, valueCodeableConcept=not_pregnant)) == {}
