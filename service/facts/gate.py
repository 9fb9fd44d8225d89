"""The gate of the tolerant reader: whether a rule can use a resource, decided once, on the elements it reads.

``read_model`` validates only the elements a rule reads with the ``fhir.resources`` R4B model. When one of them
cannot be read (a pydantic ``ValidationError``, the only error the models raise for bad input), the resource is
skipped for that rule and the skip is tallied (``service.facts.skip_log``: ONE log line per request). A leaf no rule
reads inside a read element (``coding.userSelected``) is dropped instead of costing the resource. Verdicts are
remembered by the exact JSON of the elements read, as sent (bounded), so a resource sent again is neither
conformed nor validated again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable
from typing import Any

import orjson
from pydantic import ValidationError

from service.facts.conform import READ_LEAVES, FhirModel, Resource, conform_value, element_shapes
from service.facts.skip_log import note_skip

# The validated model (None when unreadable) and the unreadable elements' paths.
Verdict = tuple[Any, tuple[str, ...]]
VERDICTS_MAX_ENTRIES = 2048  # a few MiB of small models at most


def _element_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location if isinstance(part, str)) or "(resource)"


def _unreadable_elements(error: ValidationError) -> tuple[str, ...]:
    return tuple(sorted({_element_path(location) for location in _error_locations(error)})) or ("(resource)",)


def _kept(model: FhirModel, raw: Resource, elements: Collection[str]) -> Resource:
    """The elements in ``elements`` that R4 defines for the type, conformed (unknown elements are left out)."""
    shapes = element_shapes(model.__name__)
    kept: Resource = {"resourceType": raw["resourceType"]} if "resourceType" in raw else {}
    for key, value in raw.items():
        if key in elements and key in shapes and value is not None:
            kept[key] = conform_value(value, shapes[key])
    return kept


def _read_part(raw: Resource, elements: Collection[str]) -> Resource:
    """The resource's type and the elements read, as sent: what is validated (``_kept``) is a function of them."""
    return {key: value for key, value in raw.items() if key in elements or key == "resourceType"}


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


def _error_locations(error: ValidationError) -> list[tuple[int | str, ...]]:
    """The element paths of a validation error."""
    return [tuple(item["loc"]) for item in error.errors()]


def _minor_leaves(error: ValidationError) -> list[tuple[int | str, ...]] | None:
    """The error paths when every one ends in a leaf no rule reads (inside a read element); else None."""
    locations = _error_locations(error)
    names = [[part for part in location if isinstance(part, str)] for location in locations]
    if all(len(parts) > 1 and parts[-1] not in READ_LEAVES for parts in names):
        return locations
    return None


def _validated(model: FhirModel, kept: Resource) -> Any:
    """Validate; when the only errors are leaves no rule reads (``coding.userSelected``), drop them and retry once."""
    try:
        return model.model_validate(kept)
    except ValidationError as error:
        minor = _minor_leaves(error)
        if minor is None:
            raise
        for location in minor:
            kept = _without(kept, location)
        return model.model_validate(kept)


class _Verdicts:
    """The gate's verdicts by the exact JSON of the elements read, as sent: a bounded, least-recently-used memory.

    Conforming and validating are a pure function of the model and those elements, so the same bytes get the same
    verdict; EHRs send the same labs and conditions again with every chart opening and every order-select /
    order-sign of a session, and fhir.resources validation is most of the screen's cost. Models are only read,
    never changed.
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._verdicts: OrderedDict[tuple[str, bytes], Verdict] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._verdicts)

    def clear(self) -> None:
        """Forget every verdict."""
        with self._lock:
            self._verdicts.clear()

    def get(self, key: tuple[str, bytes]) -> Verdict | None:
        """The verdict kept for ``key``, if any (now the most recently used)."""
        with self._lock:
            verdict = self._verdicts.get(key)
            if verdict is not None:
                self._verdicts.move_to_end(key)
            return verdict

    def put(self, key: tuple[str, bytes], verdict: Verdict) -> None:
        """Keep ``verdict``, forgetting the least recently used one beyond the bound."""
        with self._lock:
            self._verdicts[key] = verdict
            if len(self._verdicts) > self._max_entries:
                self._verdicts.popitem(last=False)


def _verdict(model: FhirModel, kept: Resource) -> Verdict:
    """(the validated model, ()) or (None, the unreadable elements)."""
    try:
        return _validated(model, kept), ()
    except ValidationError as exc:  # an element a rule reads is unreadable: skip the resource for that rule
        return None, _unreadable_elements(exc)


def read_model(model: FhirModel, raw: Resource, elements: Collection[str], rules: Iterable[str]) -> Any:
    """The resource validated on the elements a rule reads, or None (and a tallied skip) when one is unreadable.

    Elements R4 does not define for the type are left out (unknown elements never cost the resource).
    """
    try:
        key = (model.__name__, orjson.dumps(_read_part(raw, elements)))
    except TypeError:  # not plain JSON (a caller's own objects): validate without remembering
        verdict = _verdict(model, _kept(model, raw, elements))
    else:
        known = VERDICTS.get(key)
        verdict = known if known is not None else _verdict(model, _kept(model, raw, elements))
        if known is None:
            VERDICTS.put(key, verdict)
    validated, unreadable = verdict
    if validated is None:
        note_skip(str(raw.get("resourceType") or model.__name__), unreadable, rules)
    return validated


VERDICTS = _Verdicts(VERDICTS_MAX_ENTRIES)
