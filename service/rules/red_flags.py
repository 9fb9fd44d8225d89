"""Red flags (bmj-mnd-2022): weakness, wasting, bulbar signs, hyperreflexia may not be explained by a reversible cause.

Some reversible causes do give such signs (low Mg hyperreflexia, low K weakness, thyrotoxic myopathy, lithium), so
the card names any reversible cause found and still asks for neurological assessment. Upper and lower motor neuron
signs together (the Gold Coast pattern, turner-gold-coast-2022) ask for it urgently; orthopnoea or a low vital
capacity asks for breathing to be assessed (issue 25; conditions.yaml ``sign``).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.facts import PatientFacts
from service.knowledge import RED_FLAGS_RULE, ConditionRole, Knowledge
from service.knowledge.condition_models import MotorSign
from service.rules.conditions import condition_line
from service.rules.findings import Category, Finding, Indicator


def red_flag_finding(facts: PatientFacts, knowledge: Knowledge, found: Sequence[Finding] = ()) -> Finding | None:
    """One card listing every current red flag and any reversible cause ``found``; it asks for neurology."""
    flags = facts.conditions_with(ConditionRole.RED_FLAG)
    if not flags:
        return None
    sets = {s.id: s for s in knowledge.sets_with_role(ConditionRole.RED_FLAG)}
    names = list(dict.fromkeys(sets[f.set_id].display.lower() for f in flags))
    lines = tuple(condition_line(f, knowledge) for f in flags)
    signs = {sets[f.set_id].sign for f in flags}
    phrases = knowledge.cards.phrases
    both = {MotorSign.UMN, MotorSign.LMN} <= signs
    notes = (
        *((phrases["red_flags_umn_lmn_note"],) if both else ()),
        *((phrases["red_flags_respiratory_note"],) if MotorSign.RESPIRATORY in signs else ()),
        *_causes_note(found, knowledge),
    )
    return Finding(
        rule_id=RED_FLAGS_RULE,
        category=Category.RED_FLAG,
        indicator=Indicator.WARNING,
        summary={"flags": ", ".join(names), "suffix": phrases["red_flags_umn_lmn_suffix"] if both else ""},
        facts=lines,
        notes=notes,
        action=phrases["red_flags_umn_lmn_action"] if both else None,
        reversible=False,
    )


def _causes_note(found: Sequence[Finding], knowledge: Knowledge) -> tuple[str, ...]:
    causes = list(dict.fromkeys(f.cause for f in found if f.cause))
    return (knowledge.cards.phrases["causes_found"].format(items="; ".join(causes)),) if causes else ()


def exam_unread_note(facts: PatientFacts, knowledge: Knowledge) -> str | None:
    """The note every card carries when exam findings could not be read (bmj-mnd-2022).

    Weakness, wasting and bulbar signs are what make a reversible cause unlikely to be the whole story, and many EHRs
    chart them (and the twitching itself) only as examination Observations: a card built without them must say so
    rather than read as if no red flag were present.
    """
    return None if facts.exam_findings_read else knowledge.cards.phrases["exam_unread_note"]
