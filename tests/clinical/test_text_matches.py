"""The fact index remembers a text's matches: the same answers from memory, for drugs and conditions apart, bounded."""

from __future__ import annotations

import dataclasses

from service.facts import code_index
from service.facts.code_index import Concept, Confidence, fact_index
from service.knowledge import Knowledge


def test_remembered_matches_are_the_matches(knowledge: Knowledge) -> None:
    index = fact_index(knowledge)
    fresh = dataclasses.replace(index, text_matches={})
    name = Concept((), (knowledge.drug_groups[0].names[0],))
    first = fresh.match_drug(name)
    assert first and all(match.confidence == Confidence.TEXT for match in first)
    assert fresh.match_drug(name) == first == index.match_drug(name)
    # The same words as a condition text are looked up in the condition phrases, not answered from the drug memory.
    as_condition = {"text": name.texts[0]}
    other = dataclasses.replace(index, text_matches={})
    assert fresh.match_condition(as_condition) == other.match_condition(as_condition)


def test_the_text_memory_is_bounded(knowledge: Knowledge) -> None:
    index = dataclasses.replace(fact_index(knowledge), text_matches={})
    for n in range(code_index.TEXT_MATCHES_KEPT + 5):
        index.match_drug(Concept((), (f"unknown drug {n}",)))
    assert len(index.text_matches) <= code_index.TEXT_MATCHES_KEPT
