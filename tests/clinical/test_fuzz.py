"""Arbitrary JSON in the places the screen reads never raises: malformed data is skipped, not a 500."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.response import check_response
from service.facts.records import build_record
from service.knowledge import load_knowledge
from service.screen import screen_patient

from .conftest import NOW

KNOWLEDGE = load_knowledge()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
CODES = st.sampled_from(["19123-9", "82470000", "R25.3", "435", "6448", "T60.0X1A", "G35", "26544005"])
SYSTEMS = st.sampled_from(
    [
        "http://loinc.org",
        "http://snomed.info/sct",
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://www.nlm.nih.gov/research/umls/rxnorm",
    ]
)
CODING = st.fixed_dictionaries({"system": SYSTEMS, "code": CODES}) | JSON
FIELDS = st.sampled_from(
    [
        "status",
        "intent",
        "code",
        "clinicalStatus",
        "verificationStatus",
        "effectiveDateTime",
        "valueQuantity",
        "referenceRange",
        "interpretation",
        "medicationCodeableConcept",
        "medicationReference",
        "contained",
        "authoredOn",
        "effectivePeriod",
        "onsetDateTime",
        "subject",
        "ingredient",
    ]
)


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "Observation",
                "Condition",
                "MedicationRequest",
                "MedicationStatement",
                "MedicationAdministration",
                "Medication",
            ]
        )
    )
    resource: dict[str, Any] = {"resourceType": kind, "code": {"coding": [draw(CODING)]}}
    resource["medicationCodeableConcept"] = {"coding": [draw(CODING)]}
    resource["status"] = draw(st.sampled_from(["final", "active", "completed"]) | JSON)
    resource.update(draw(st.dictionaries(FIELDS, JSON, max_size=4)))
    return resource


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(resources(), max_size=6), st.booleans())
def test_screen_never_raises(items: list[dict[str, Any]], with_trigger: bool) -> None:
    trigger = {"resourceType": "Condition", "code": {"text": "fasciculations"}}
    record = build_record([*items, *([trigger] if with_trigger else [])])
    result = screen_patient(record, now=NOW, hook_instance="fuzz", knowledge=KNOWLEDGE)
    check_response({"cards": [card.to_json() for card in result.cards]})
