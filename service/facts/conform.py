"""The tolerant reader's first step: repair the shape of what clients send, guided by R4's element definitions.

``conform_resource`` (records edge, every resource of prefetch, FHIR fall-back answers and ``draftOrders``) wraps a
single object where R4 says array (the CDS Hooks Sandbox sends ``MedicationRequest.category`` that way), unwraps a
one-item array where R4 says single, and drops unknown elements, extensions, primitive extensions (``_status``)
and JSON nulls - no rule reads them, so they must not cost the resource. The second step, deciding whether a rule
can use a resource, is the gate (``service.facts.gate``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

Resource = dict[str, Any]
# An R4B model class (fhir.resources ships no type information, so models are Any to mypy).
FhirModel = Any

# Elements never worth keeping at this edge: no rule reads them, and an invalid one must not cost the resource.
DROPPED_ELEMENTS = frozenset({"extension", "fhir_comments"})
# Leaves of data types that rules read (codes, values, units, dates, references): an error in any other leaf inside
# a read element (``coding.userSelected``, ``coding.version``, ``period.id``) drops that leaf, not the resource.
READ_LEAVES = frozenset(
    {"system", "code", "display", "text", "coding", "value", "unit", "comparator", "low", "high", "start", "end"}
    | {"reference", "itemCodeableConcept", "itemReference", "validityPeriod"}
)
_LIST_OF = "typing.Optional[typing.List["
_CHILD_TYPE = re.compile(r"abc\.(\w+)Type\b")
_ANY_RESOURCE = "Resource"
_MEDICATION_USE = ("medicationCodeableConcept", "medicationReference", "contained", "subject")

# The top-level elements read from the raw JSON (the code pre-filters, statuses, dates), per resource type: these
# are repaired at the records edge for every resource; the rest pass through untouched, and those a rule reads
# through a model (an Observation's value, range, interpretation) are repaired by the gate for the few candidates
# it validates - so the repair costs little on large bundles.
READ_ELEMENTS: dict[str, frozenset[str]] = {
    "Patient": frozenset({"id"}),
    "Observation": frozenset({"status", "code", "effectivePeriod"}),
    "Condition": frozenset({"code", "subject", "clinicalStatus", "verificationStatus"}),
    "MedicationRequest": frozenset({*_MEDICATION_USE, "status", "intent", "authoredOn", "dispenseRequest"}),
    "MedicationStatement": frozenset({*_MEDICATION_USE, "status", "effectivePeriod"}),
    "MedicationAdministration": frozenset({*_MEDICATION_USE, "status", "effectivePeriod"}),
    "Medication": frozenset({"code", "ingredient"}),
    "ServiceRequest": frozenset({"status", "intent", "code", "subject"}),
}


@dataclass(frozen=True)
class ElementShape:
    """What R4 says about one element: repeating or not, and its complex type (None for primitives)."""

    repeats: bool
    child: str | None


@functools.cache
def _model(type_name: str) -> FhirModel | None:
    """The R4B model of a resource or data type, None when fhir.resources has none by that name."""
    try:
        model: FhirModel = get_fhir_model_class(type_name)
    except (KeyError, ValueError):
        return None
    return model


@functools.cache
def element_shapes(type_name: str) -> dict[str, ElementShape]:
    """Element name (as in JSON) -> its shape, for one R4B resource, data type or backbone element."""
    model = _model(type_name)
    if model is None:
        return {}
    shapes: dict[str, ElementShape] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if alias.startswith("_") or alias in DROPPED_ELEMENTS:
            continue
        text = str(info.annotation)
        match = _CHILD_TYPE.search(text)
        child = match.group(1) if match and match.group(1) != "FHIRPrimitiveExtension" else None
        shapes[alias] = ElementShape(text.startswith(_LIST_OF), child)
    return shapes


def _in_cardinality(value: Any, shape: ElementShape) -> Any:
    """A lone value wrapped where R4 says array, a one-item array unwrapped where R4 says single."""
    if shape.repeats and not isinstance(value, list):
        return [value]
    if not shape.repeats and isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def conform_value(value: Any, shape: ElementShape) -> Any:
    """The value in R4's cardinality, its parts conformed; the very same object when nothing had to change."""
    value = _in_cardinality(value, shape)
    if shape.child is None:
        return value
    if isinstance(value, list):
        items = [_conform_element(item, shape.child) for item in value if item is not None]
        unchanged = len(items) == len(value) and all(new is old for new, old in zip(items, value, strict=True))
        return value if unchanged else items
    return _conform_element(value, shape.child)


def _conform_element(value: Any, type_name: str) -> Any:
    if not isinstance(value, dict):
        return value  # a wrong primitive stays as sent: the gate decides whether a rule needed it
    if type_name == _ANY_RESOURCE:
        return conform_resource(value)  # a contained Medication
    shapes = element_shapes(type_name)
    conformed: dict[str, Any] = {}
    for key, item in value.items():
        shape = shapes.get(key)
        if shape is not None and item is not None:
            conformed[key] = conform_value(item, shape)
    if len(conformed) == len(value) and all(conformed[key] is value[key] for key in conformed):
        return value  # well-formed already: no copy
    return conformed


def _codings_listed(concept: Any) -> Any:
    """A CodeableConcept whose ``coding`` is an array (a lone Coding object wrapped); anything else unchanged."""
    if isinstance(concept, dict) and isinstance(concept.get("coding"), dict):
        return {**concept, "coding": [concept["coding"]]}
    return concept


def _shallow(value: Any, shape: ElementShape) -> Any:
    """Cardinality of one top-level element (and of ``coding`` in CodeableConcepts); the same object when fine."""
    value = _in_cardinality(value, shape)
    if shape.child == _ANY_RESOURCE and isinstance(value, list):
        return [conform_resource(item) if isinstance(item, dict) else item for item in value]  # contained
    if shape.child != "CodeableConcept":
        return value
    if isinstance(value, list):
        items = [_codings_listed(item) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return _codings_listed(value)


# (element, shape, repeats, holds contained resources, is a CodeableConcept) of the top-level elements read.
ReadCheck = tuple[str, ElementShape, bool, bool, bool]


@functools.cache
def _read_checks(type_name: str) -> tuple[ReadCheck, ...]:
    """The elements of ``READ_ELEMENTS`` for one of its resource types, with their shape flags worked out once."""
    shapes = element_shapes(type_name)
    return tuple(
        (key, shape, shape.repeats, shape.child == _ANY_RESOURCE, shape.child == "CodeableConcept")
        for key, shape in ((key, shapes[key]) for key in sorted(READ_ELEMENTS[type_name]))
    )


def _lone_coding_in(concepts: list[Any]) -> bool:
    """Whether any CodeableConcept of the list has a lone Coding object as its ``coding``."""
    for item in concepts:
        if isinstance(item, dict) and isinstance(item.get("coding"), dict):
            return True
    return False


def _needs_repair(value: Any, repeats: bool, contained: bool, concept: bool) -> bool:
    """False when ``_shallow`` would return the value itself (the common case), decided without building anything."""
    if isinstance(value, list):
        if contained or (not repeats and len(value) == 1):
            return True
        return concept and _lone_coding_in(value)
    if repeats:
        return True
    return concept and isinstance(value, dict) and isinstance(value.get("coding"), dict)


def conform_resource(raw: Resource) -> Resource:
    """The resource with R4 cardinalities restored where the screen reads raw JSON (other types: unchanged).

    Shallow on purpose (it runs on every resource): the top-level elements of ``READ_ELEMENTS`` and the ``coding``
    of CodeableConcepts. The gate (``read_model``) conforms in depth the elements of the few resources it validates.
    """
    type_name = raw.get("resourceType")
    if not isinstance(type_name, str) or type_name not in READ_ELEMENTS:
        return raw
    repaired: dict[str, Any] = {}
    for key, shape, repeats, contained, concept in _read_checks(type_name):
        if key in raw and _needs_repair(value := raw[key], repeats, contained, concept):
            fixed = _shallow(value, shape)
            if fixed is not value:
                repaired[key] = fixed
    return {**raw, **repaired} if repaired else raw
