"""Whether the patient is pregnant now, for the rules (issue 25): a pregnancy status Observation within its window,
or a pregnancy Condition that is undated or dated within the set's ``max_age_days`` (conditions.yaml)."""

from __future__ import annotations

import datetime as dt

from service.facts import PatientFacts
from service.knowledge import ConditionRole, Knowledge


def pregnant_now(facts: PatientFacts, knowledge: Knowledge) -> bool:
    """A current pregnancy: a dated Condition older than its set's limit (an encounter's Z3A code) does not count."""
    limits = {s.id: s.max_age_days for s in knowledge.sets_with_role(ConditionRole.PREGNANCY)}
    for item in facts.conditions_with(ConditionRole.PREGNANCY):
        limit = limits.get(item.set_id)
        if item.observed or limit is None or item.recorded is None:
            return True
        if facts.now - item.recorded <= dt.timedelta(days=limit):
            return True
    return False
