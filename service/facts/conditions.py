"""Conditions -> the current, non-refuted conditions that belong to a knowledge set (by code, else by text)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.condition import Condition

from service.facts.abatement import abated
from service.facts.code_index import Confidence, Match, fact_index
from service.facts.dates import parse_instant
from service.facts.gate import read_model
from service.facts.records import Resource
from service.knowledge.models import ConditionRole

if TYPE_CHECKING:
    from service.knowledge import Knowledge

CURRENT_CLINICAL_STATUS = frozenset({"active", "recurrence", "relapse"})
# A disease in remission (relapsing-remitting MS between relapses) is still the patient's diagnosis.
CURRENT_DISEASE_STATUS = CURRENT_CLINICAL_STATUS | {"remission"}
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})


@dataclass(frozen=True)
class ConditionFact:
    """A current condition that belongs to one knowledge set."""

    set_id: str
    role: ConditionRole
    name: str
    recorded: dt.datetime | None
    confidence: Confidence
    observed: bool = False  # read from an Observation (an exam finding), not a Condition (service.facts.signs)


CONDITION_ELEMENTS = frozenset(
    {"resourceType", "id", "code", "subject", "clinicalStatus", "verificationStatus", "onsetDateTime", "recordedDate"}
)


def _status_code(concept: Any) -> str | None:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return None
    codes = (c.get("code") for c in concept["coding"] if isinstance(c, dict))
    return next((code for code in codes if isinstance(code, str) and code), None)


def _is_current(raw: Resource, roles: Iterable[ConditionRole]) -> bool:
    clinical = _status_code(raw.get("clinicalStatus"))
    allowed = CURRENT_DISEASE_STATUS if ConditionRole.DISEASE in roles else CURRENT_CLINICAL_STATUS
    if clinical is not None and clinical not in allowed:
        return False
    # No clinicalStatus but an abatement: R4 con-4 says it is then inactive, resolved or in remission (issue 25); a
    # disease in remission stays the patient's diagnosis, so only signs, triggers and exposures are set aside.
    if clinical is None and ConditionRole.DISEASE not in roles and abated(raw):
        return False
    return _status_code(raw.get("verificationStatus")) not in EXCLUDED_VERIFICATION


def _condition_facts(raw: Resource, matches: tuple[Match, ...], knowledge: Knowledge) -> list[ConditionFact]:
    model = read_model(Condition, raw, CONDITION_ELEMENTS, (f"condition.{m.key}" for m in matches))
    if model is None:
        return []
    name = (model.code.text if model.code else None) or next(
        (c.display for c in (model.code.coding if model.code else None) or () if c.display), None
    )
    recorded = parse_instant(raw.get("onsetDateTime") or raw.get("recordedDate"))
    roles = {item.id: item for item in knowledge.condition_sets}
    return [
        ConditionFact(m.key, roles[m.key].role, name or roles[m.key].display, recorded, m.confidence) for m in matches
    ]


def _by_currency(
    raw: Resource, matches: tuple[Match, ...], roles: Mapping[str, ConditionRole]
) -> list[tuple[Match, ...]]:
    """The matches for which this Condition is current (a remission still counts for a disease)."""
    current = tuple(m for m in matches if _is_current(raw, (roles[m.key],)))
    return [current] if current else []


def current_conditions(conditions: Iterable[Resource], knowledge: Knowledge) -> list[ConditionFact]:
    """Current, non-refuted conditions that match a knowledge set."""
    index = fact_index(knowledge)
    roles = {item.id: item.role for item in knowledge.condition_sets}
    facts: list[ConditionFact] = []
    for raw in conditions:
        matches = index.match_condition(raw.get("code"))
        for role_matches in _by_currency(raw, matches, roles):
            facts.extend(_condition_facts(raw, role_matches, knowledge))
    return facts
