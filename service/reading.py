"""The tolerant reader at the facts edge: repair what clients send, then decide once whether a rule can use it.

Two steps, one place:

- ``conform_resource`` (records edge, every resource of prefetch, FHIR fall-back answers and ``draftOrders``)
  repairs the shape of what clients send, guided by the R4 element definitions of ``fhir.resources``: a single
  object where R4 says array is wrapped (the CDS Hooks Sandbox sends ``MedicationRequest.category`` that way), a
  one-item array where R4 says single is unwrapped, and unknown elements, extensions, primitive extensions
  (``_status``) and JSON nulls are dropped - no rule reads them, so they must not cost the resource.
- ``read_model`` (facts gate) validates only the elements a rule reads. When one of them cannot be read, the
  resource is skipped for that rule and the skip is tallied (``service.skip_log``: ONE log line per request).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from service.skip_log import note_skip

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


def _conform_value(value: Any, shape: ElementShape) -> Any:
    """The value in R4's cardinality, its parts conformed; the very same object when nothing had to change."""
    if shape.repeats and not isinstance(value, list):
        value = [value]
    elif not shape.repeats and isinstance(value, list) and len(value) == 1:
        value = value[0]
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
            conformed[key] = _conform_value(item, shape)
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
    if shape.repeats and not isinstance(value, list):
        value = [value]
    elif not shape.repeats and isinstance(value, list) and len(value) == 1:
        value = value[0]
    if shape.child == _ANY_RESOURCE and isinstance(value, list):
        return [conform_resource(item) if isinstance(item, dict) else item for item in value]  # contained
    if shape.child != "CodeableConcept":
        return value
    if isinstance(value, list):
        items = [_codings_listed(item) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return _codings_listed(value)


def conform_resource(raw: Resource) -> Resource:
    """The resource with R4 cardinalities restored where the screen reads raw JSON (other types: unchanged).

    Shallow on purpose (it runs on every resource): the top-level elements of ``READ_ELEMENTS`` and the ``coding``
    of CodeableConcepts. The gate (``read_model``) conforms in depth the elements of the few resources it validates.
    """
    read = READ_ELEMENTS.get(str(raw.get("resourceType")))
    if read is None:
        return raw
    shapes = element_shapes(str(raw["resourceType"]))
    repaired = {key: fixed for key in read if key in raw and (fixed := _shallow(raw[key], shapes[key])) is not raw[key]}
    return {**raw, **repaired} if repaired else raw


def conform_bundle(value: Any) -> Any:
    """A Bundle with ``entry`` as an array of objects and every entry's resource conformed (a missing type is fine)."""
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return conform_resource(value) if isinstance(value, dict) else value
    entries = value.get("entry")
    entries = [entries] if isinstance(entries, dict) else entries if isinstance(entries, list) else []
    conformed = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            conformed.append({**entry, "resource": conform_bundle(entry["resource"])})
    return {**value, "entry": conformed}


def _element_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location if isinstance(part, str)) or "(resource)"


def _unreadable_elements(error: Exception) -> tuple[str, ...]:
    locations = _error_locations(error)
    if locations is not None:
        return tuple(sorted({_element_path(location) for location in locations}))
    return ("(resource)",)


def _kept(model: FhirModel, raw: Resource, elements: Collection[str]) -> Resource:
    """The elements in ``elements`` that R4 defines for the type, conformed (unknown elements are left out)."""
    shapes = element_shapes(model.__name__)
    kept: Resource = {"resourceType": raw["resourceType"]} if "resourceType" in raw else {}
    for key, value in raw.items():
        if key in elements and key in shapes and value is not None:
            kept[key] = _conform_value(value, shapes[key])
    return kept


def _without(value: Any, location: tuple[int | str, ...]) -> Any:
    """A copy of ``value`` without the leaf at ``location`` (the path of a validation error)."""
    if not location:
        return value
    head, rest = location[0], location[1:]
    if isinstance(value, dict) and head in value:
        if not rest:
            return {key: item for key, item in value.items() if key != head}
        return {**value, head: _without(value[head], rest)}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        return [*value[:head], _without(value[head], rest), *value[head + 1 :]]
    return value


def _error_locations(error: Exception) -> list[tuple[int | str, ...]] | None:
    """The element paths of a pydantic validation error (as raised by the models), None for any other error."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return None
    try:
        return [tuple(item["loc"]) for item in errors()]
    except (TypeError, KeyError):
        return None


def _minor_leaves(error: Exception) -> list[tuple[int | str, ...]] | None:
    """The error paths when every one ends in a leaf no rule reads (inside a read element); else None."""
    locations = _error_locations(error)
    if locations is None:
        return None
    names = [[part for part in location if isinstance(part, str)] for location in locations]
    if all(len(parts) > 1 and parts[-1] not in READ_LEAVES for parts in names):
        return locations
    return None


def _validated(model: FhirModel, kept: Resource) -> Any:
    """Validate; when the only errors are leaves no rule reads (``coding.userSelected``), drop them and retry once."""
    try:
        return model.model_validate(kept)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        minor = _minor_leaves(error)
        if minor is None:
            raise
        for location in minor:
            kept = _without(kept, location)
        return model.model_validate(kept)


def is_readable(model: FhirModel, raw: Resource, elements: Collection[str]) -> bool:
    """Whether ``read_model`` would read the resource (nothing is tallied)."""
    try:
        _validated(model, _kept(model, raw, elements))
    except Exception:  # any model failure means an unreadable element
        return False
    return True


def read_model(model: FhirModel, raw: Resource, elements: Collection[str], rules: Iterable[str]) -> Any:
    """The resource validated on the elements a rule reads, or None (and a tallied skip) when one is unreadable.

    Elements R4 does not define for the type are left out (unknown elements never cost the resource).
    """
    try:
        return _validated(model, _kept(model, raw, elements))
    except Exception as exc:  # any model failure means an unreadable element: skip the resource, never a 500
        note_skip(str(raw.get("resourceType") or model.__name__), _unreadable_elements(exc), rules)
        return None
