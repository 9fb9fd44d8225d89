"""Peripheral nerve hyperexcitability (issue 25 item 2; sawlani-katirji-2017, wu-pnhs-2021).

Cramp-fasciculation syndrome, acquired neuromyotonia (Isaacs) and Morvan syndrome are treatable, often autoimmune
(CASPR2, LGI1) and sometimes paraneoplastic. A diagnosis on record gives an info card in every mode (it is
treatable, like a reversible cause); twitching with cramps or stiffness and no red flag raises the question, as the
step after the reversible causes (full screen only).
"""

from __future__ import annotations

from service.facts import PatientFacts
from service.knowledge import ConditionRole, Knowledge
from service.rules import text
from service.rules.conditions import condition_line
from service.rules.findings import Category, Finding, Indicator

DIAGNOSIS_SET = "nerve-hyperexcitability"  # conditions.yaml: a disease with a card of its own
SYMPTOM_SET = "cramps-stiffness"  # conditions.yaml: the context that raises the question
RULE_ID = f"condition.{DIAGNOSIS_SET}"
ANTIBODY_LABS = ("caspr2_igg", "lgi1_igg")  # labs.yaml: serum CASPR2 and LGI1 IgG screens (ARUP 2009452 / 2009456)


def hyperexcitability_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """The card for a hyperexcitability syndrome on record, or for twitching with cramps/stiffness and no red flag."""
    phrases = knowledge.cards.phrases
    known = [item for item in facts.conditions if item.set_id == DIAGNOSIS_SET]
    symptoms = [item for item in facts.conditions if item.set_id == SYMPTOM_SET]
    notes: tuple[str, ...] = ()
    if known:
        suffix, items = phrases["hyperexcitability_known_suffix"], known + symptoms
    elif symptoms and _twitching_without_red_flag(facts):
        suffix, items = phrases["hyperexcitability_suspected_suffix"], symptoms
        notes = (phrases["hyperexcitability_suspected_note"],)
    else:
        return None
    results = _antibody_lines(facts, knowledge)
    notes += (phrases["hyperexcitability_antibody_note"],) if results else ()
    return Finding(
        rule_id=RULE_ID,
        category=Category.CONDITION,
        indicator=Indicator.INFO,
        summary={"suffix": suffix},
        facts=(*(condition_line(item, knowledge) for item in items), *results),
        notes=notes,
        orders=_antibodies_to_order(facts),
        reversible=bool(known),  # treatable: a diagnosis on record speaks in the gated screen too
    )


def _twitching_without_red_flag(facts: PatientFacts) -> bool:
    """Documented fasciculations and no red flag: hyperexcitability is a question only then (red flags come first)."""
    return bool(facts.conditions_with(ConditionRole.TRIGGER)) and not facts.conditions_with(ConditionRole.RED_FLAG)


def _antibodies_to_order(facts: PatientFacts) -> tuple[str, ...]:
    """CASPR2 and LGI1 IgG orders, each unless a result of it is on record (sawlani-katirji-2017, arup-caspr2-lgi1)."""
    return tuple(lab for lab in ANTIBODY_LABS if lab not in facts.labs)


def _antibody_lines(facts: PatientFacts, knowledge: Knowledge) -> tuple[str, ...]:
    """A CASPR2 / LGI1 result on record, shown as reported: never judged here, never silently dropped."""
    return tuple(
        text.lab_line(knowledge.analyte(lab).display, result.value_text, result, facts.now)
        for lab in ANTIBODY_LABS
        if (result := facts.labs.get(lab)) is not None
    )
