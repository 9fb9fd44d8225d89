"""Condition.abatement[x]: an abated condition is not active (R4 invariant con-4; fhir-r4-condition, issue 25)."""

from __future__ import annotations

from service.facts.records import Resource

# R4 Condition.abatement[x]: the choice types a client may send.
ABATEMENT_ELEMENTS = ("abatementDateTime", "abatementAge", "abatementPeriod", "abatementRange", "abatementString")


def abated(raw: Resource) -> bool:
    """Whether the Condition carries any abatement[x] value (a date, an age, a period, a range or a text)."""
    return any(raw.get(element) not in (None, "", {}, []) for element in ABATEMENT_ELEMENTS)
