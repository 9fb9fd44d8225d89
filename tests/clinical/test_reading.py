"""The tolerant reader on its own: shapes from R4, shallow repair at the edge, the one-line skip tally."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.facts import build_facts
from service.facts.conform import READ_ELEMENTS, _shallow, conform_resource, element_shapes
from service.facts.gate import VERDICTS, _Verdicts
from service.facts.records import build_record
from service.facts.skip_log import skip_log
from service.knowledge import Knowledge
from tests.clinical.conftest import NOW, load_record

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
KEYS = st.sampled_from(["code", "coding", "status", "contained", "category", "ingredient", "effectivePeriod", "x"])
TYPES = st.sampled_from(["Observation", "Condition", "MedicationRequest", "Medication", "Bundle", "Patient", 7])


def test_shapes_come_from_r4() -> None:
    request = element_shapes("MedicationRequest")
    assert request["category"].repeats and request["category"].child == "CodeableConcept"
    assert not request["medicationCodeableConcept"].repeats
    assert element_shapes("CodeableConcept")["coding"].repeats
    assert "extension" not in element_shapes("Quantity")  # never read: dropped before validation


def test_well_formed_resources_are_not_copied() -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"coding": [{"code": "1"}]}}
    assert conform_resource(observation) is observation


def test_edge_repairs_cardinality_and_lone_codings() -> None:
    condition = {
        "resourceType": "Condition",
        "code": [{"coding": {"system": "http://snomed.info/sct", "code": "82470000"}}],
        "clinicalStatus": {"coding": {"code": "active"}},
    }
    repaired = conform_resource(copy.deepcopy(condition))
    assert repaired["code"] == {"coding": [{"system": "http://snomed.info/sct", "code": "82470000"}]}
    assert repaired["clinicalStatus"] == {"coding": [{"code": "active"}]}


def test_a_contained_medication_with_lone_objects_is_recognised(knowledge: Knowledge) -> None:
    record = load_record("contained_medication")
    (request,) = record.medication_requests
    raw: dict[str, Any] = copy.deepcopy(request)
    (medication,) = raw["contained"]
    medication["code"]["coding"] = medication["code"]["coding"][0]
    raw["contained"] = medication  # a lone contained resource
    facts = build_facts(
        build_record([{"resourceType": "Bundle", "entry": {"resource": raw}}]), now=NOW, knowledge=knowledge
    )
    assert facts.uses_of("lithium")


def test_skips_outside_a_request_are_logged_at_once(knowledge: Knowledge, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        build_facts(load_record("malformed_resource"), now=NOW, knowledge=knowledge)
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(lines) == 2 and all(line.startswith("skipped 1 resources: ") for line in lines)


def test_skips_inside_a_request_are_one_line(knowledge: Knowledge, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), skip_log("hook-1") as tally:
        build_facts(load_record("malformed_resource"), now=NOW, knowledge=knowledge)
    (line,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert line.startswith("hookInstance=hook-1 skipped 2 resources: ") and sum(tally.values()) == 2
    assert "MedicationRequest 1 (subject unreadable; rules drug.lithium)" in line


@settings(max_examples=300, deadline=None)
@given(TYPES, st.dictionaries(KEYS, JSON, max_size=4))
def test_conform_never_raises(resource_type: Any, elements: dict[str, Any]) -> None:
    value = {"resourceType": resource_type, **elements}
    conform_resource(value)
    build_record([], draft_orders={"resourceType": "Bundle", "entry": {"resource": value}})
    build_record([value, {"resourceType": "Bundle", "entry": [value, {"resource": value}]}], draft_orders=value)


def _repair_every_read_element(raw: dict[str, Any]) -> dict[str, Any]:
    """The edge's repair without its shortcut: ``_shallow`` on every read element present (issue 16's reference)."""
    resource_type = raw.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in READ_ELEMENTS:
        return raw
    shapes = element_shapes(resource_type)
    fixed = {key: _shallow(raw[key], shapes[key]) for key in READ_ELEMENTS[resource_type] if key in raw}
    changed = {key: value for key, value in fixed.items() if value is not raw[key]}
    return {**raw, **changed} if changed else raw


SHAPED = st.sampled_from(["Observation", "Condition", "MedicationRequest", "MedicationStatement", "Medication"])
CONCEPTS = st.fixed_dictionaries({}, optional={"coding": JSON | st.lists(JSON, max_size=2), "text": JSON})
READ_KEYS = st.sampled_from(sorted({key for keys in READ_ELEMENTS.values() for key in keys}))


@settings(max_examples=500, deadline=None)
@given(SHAPED, st.dictionaries(READ_KEYS, JSON | CONCEPTS | st.lists(CONCEPTS, max_size=2), max_size=5))
def test_the_edge_shortcut_changes_nothing(resource_type: str, elements: dict[str, Any]) -> None:
    """Deciding "already R4-shaped" without building anything gives what repairing every read element gives."""
    raw = {"resourceType": resource_type, **elements}
    expected = _repair_every_read_element(copy.deepcopy(raw))
    conformed = conform_resource(raw)
    assert conformed == expected
    assert (conformed is raw) == (_repair_every_read_element(raw) is raw)  # no copy when nothing changes


def test_a_remembered_verdict_is_the_same_verdict(knowledge: Knowledge) -> None:
    """The gate's memory of verdicts: a resource sent again is refused or read exactly as the first time."""
    record = load_record("malformed_resource")
    tallies = []
    for _ in range(2):
        with skip_log("hook-again") as tally:
            facts = build_facts(record, now=NOW, knowledge=knowledge)
        tallies.append((dict(tally), facts))
    (first_skips, first_facts), (second_skips, second_facts) = tallies
    assert first_skips == second_skips and sum(first_skips.values()) == 2
    assert first_facts == second_facts
    assert len(VERDICTS) > 0
    VERDICTS.clear()
    with skip_log("hook-cleared") as tally:
        assert build_facts(record, now=NOW, knowledge=knowledge) == first_facts
    assert dict(tally) == first_skips


def test_the_verdict_memory_is_bounded() -> None:
    verdicts = _Verdicts(max_entries=2)
    for n in range(3):
        verdicts.put(("Observation", str(n).encode()), (None, ("code",)))
    assert len(verdicts) == 2 and verdicts.get(("Observation", b"0")) is None
    assert verdicts.get(("Observation", b"2")) == (None, ("code",))
