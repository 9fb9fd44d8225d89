"""Result shapes beyond a top-level ``valueQuantity``: panel components and a number written as a string (issue 25).

A blood gas or electrolyte panel often carries ionised calcium, potassium or sodium as ``Observation.component``
(R4: a component shares its parent's subject, time and status); each component is read as an Observation of its own.
A feed that writes the result as text ("1.1 mg/dL", "<0.5 mmol/L") is read as the number and unit it states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from service.facts.records import Resource

# The parent's elements a component inherits (R4 Observation.component: same subject, effective time and status).
INHERITED = ("status", "subject", "effectiveDateTime", "effectiveInstant", "effectivePeriod", "issued")
# A component's own elements the lab reader uses.
COMPONENT_ELEMENTS = ("code", "valueQuantity", "valueString", "referenceRange", "interpretation")
# "1.1 mg/dL", "< 0.5 mmol/L", "1,1 mmol/L", "2.0": an optional comparator, one number, an optional unit.
NUMBER_WITH_UNIT = re.compile(r"^\s*(<=|>=|<|>|≤|≥)?\s*([+-]?\d+(?:[.,]\d+)?)\s*([^\s\d<>=.,+\-].*?)?\s*$")
COMPARATORS = {"≤": "<=", "≥": ">="}


@dataclass(frozen=True)
class StatedQuantity:
    """A number and unit read from a ``valueString``."""

    value: float
    text: str  # the comparator and number as the lab wrote them
    unit: str | None


def quantity_in_text(value: object) -> StatedQuantity | None:
    """The number and unit a valueString states, or None when it is not one number (a comment, a range)."""
    if not isinstance(value, str):
        return None
    match = NUMBER_WITH_UNIT.match(value)
    if match is None:
        return None
    comparator, number, unit = match.groups()
    number = number.replace(",", ".")
    return StatedQuantity(float(number), COMPARATORS.get(comparator, comparator or "") + number, unit)


def with_components(observations: Iterable[Resource]) -> Iterator[Resource]:
    """Every Observation, each followed by its components as Observations of their own (parent time and status)."""
    for raw in observations:
        yield raw
        components = raw.get("component")
        components = [components] if isinstance(components, dict) else components  # one object where R4 has a list
        if not isinstance(components, list):
            continue
        for component in components:
            if not isinstance(component, dict) or not isinstance(component.get("code"), dict):
                continue
            own = {key: component[key] for key in COMPONENT_ELEMENTS if key in component}
            inherited = {key: raw[key] for key in INHERITED if key in raw}
            # The parent's id is kept (an id has at most 64 characters): the component is a part of that resource.
            yield {"resourceType": "Observation", **({"id": raw["id"]} if "id" in raw else {}), **inherited, **own}
