"""Precompiled code lookups (LOINC, RxNorm, ATC, SNOMED CT, ICD-10-CM, text) built once per knowledge base."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from service.knowledge import Knowledge

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC_SYSTEM = "http://www.whocc.no/atc"
SNOMED_SYSTEM = "http://snomed.info/sct"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
TEXT_MATCHES_KEPT = 4096  # distinct texts whose matches are remembered per index


class Confidence(StrEnum):
    """How a fact was recognised: by a code, or less surely by words in its text."""

    CODE = "code"
    TEXT = "text"


@dataclass(frozen=True)
class Match:
    """One knowledge key (drug group or condition set) recognised by code or, less surely, by text."""

    key: str
    confidence: Confidence


class Concept(NamedTuple):
    """The codings and words of a CodeableConcept, flattened (a named tuple: built for every concept of every call)."""

    codings: tuple[tuple[str, str], ...]
    texts: tuple[str, ...]


def as_list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (missing, object, scalar) as an empty list."""
    return value if isinstance(value, list) else []


def _icd_key(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _trie_branches(node: Mapping[str, Any]) -> str:
    """The alternation below one trie node ("" marks the end of a word)."""
    parts = [re.escape(char) + _trie_branches(child) for char, child in sorted(node.items()) if char]
    if not parts:
        return ""
    body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
    if "" in node:
        return (body if len(parts) > 1 else "(?:" + body + ")") + "?"
    return body


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    # The phrases are factored by common prefixes (a trie): the same matches as a flat alternation, but a
    # position where no phrase starts is rejected after a few characters instead of after every phrase.
    words = sorted({p.strip().lower() for p in phrases if p.strip()})
    if not words:
        return None
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(r"\b(?:" + _trie_branches(trie) + r")\b", re.IGNORECASE)


def flatten_concepts(concepts: Iterable[Any]) -> Concept:
    """Codings (system, code) and texts of raw CodeableConcept dicts; anything malformed is ignored."""
    codings: list[tuple[str, str]] = []
    texts: list[str] = []
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        if isinstance(concept.get("text"), str):
            texts.append(concept["text"])
        for coding in as_list(concept.get("coding")):
            if not isinstance(coding, dict):
                continue
            if isinstance(coding.get("system"), str) and isinstance(coding.get("code"), str):
                codings.append((coding["system"], coding["code"]))
            if isinstance(coding.get("display"), str):
                texts.append(coding["display"])
    return Concept(tuple(codings), tuple(texts))


# (pattern of a group's phrases, its knowledge key, longer names removed from the text first: "Sudafed PE")
Phrases = tuple[tuple[re.Pattern[str], str, re.Pattern[str] | None], ...]


@dataclass(frozen=True)
class FactIndex:
    """Lookups from code to knowledge key."""

    loinc: Mapping[str, str]
    rxnorm: Mapping[str, tuple[str, ...]]
    atc: Mapping[str, tuple[str, ...]]
    atc_prefixes: tuple[tuple[str, str], ...]
    drug_names: Phrases
    snomed: Mapping[str, tuple[str, ...]]
    icd: Mapping[str, tuple[str, ...]]
    icd_prefixes: tuple[tuple[str, str], ...]
    condition_text: Phrases
    any_drug_name: re.Pattern[str] | None = None
    any_condition_text: re.Pattern[str] | None = None
    local: frozenset[tuple[str, str]] = frozenset()  # (system, code) of local forms: known, no culprit
    # (joined text, patterns' id) -> its text matches: drug names and condition texts recur from call to call, and
    # the answer depends on nothing else (this index never changes); bounded, emptied when full.
    text_matches: dict[tuple[str, int], tuple[Match, ...]] = field(default_factory=dict, compare=False, repr=False)

    def _by_text(
        self, texts: Iterable[str], patterns: Phrases, any_phrase: re.Pattern[str] | None
    ) -> tuple[Match, ...]:
        joined = " | ".join(texts)
        cache_key = (joined, id(patterns))
        known = self.text_matches.get(cache_key)
        if known is not None:
            return known
        # One search for the union of every phrase first: where it finds nothing, no single pattern can match,
        # so most texts (no known drug or condition named) cost one search instead of one per group.
        matches: tuple[Match, ...] = ()
        if joined and any_phrase is not None and any_phrase.search(joined):
            matches = tuple(
                Match(key, Confidence.TEXT)
                for pattern, key, unless in patterns
                if pattern.search(unless.sub(" ", joined) if unless else joined)
            )
        if len(self.text_matches) >= TEXT_MATCHES_KEPT:
            self.text_matches.clear()
        self.text_matches[cache_key] = matches
        return matches

    def match_drug(self, concept: Concept) -> tuple[Match, ...]:
        """Drug groups a flattened medication concept belongs to (codes first; names only when no code matched, and
        not when a code is of a local form, an eye drop or a cream, of a culprit ingredient)."""
        keys: set[str] = set()
        for system, code in concept.codings:
            if system == RXNORM_SYSTEM:
                keys.update(self.rxnorm.get(code, ()))
            elif system == ATC_SYSTEM:
                keys.update(self.atc.get(code, ()))
                keys.update(key for prefix, key in self.atc_prefixes if code.startswith(prefix))
        if keys:
            return tuple(Match(key, Confidence.CODE) for key in sorted(keys))
        if self.local and any(coding in self.local for coding in concept.codings):
            return ()
        return self._by_text(concept.texts, self.drug_names, self.any_drug_name)

    def match_condition(self, code: Any) -> tuple[Match, ...]:
        """Condition sets a raw Condition.code belongs to (codes first; text only when no code matched)."""
        concept = flatten_concepts([code])
        keys: set[str] = set()
        for system, value in concept.codings:
            if system == SNOMED_SYSTEM:
                keys.update(self.snomed.get(value.strip(), ()))
            elif system == ICD10CM_SYSTEM:
                icd = _icd_key(value)
                keys.update(self.icd.get(icd, ()))
                keys.update(key for prefix, key in self.icd_prefixes if icd.startswith(prefix))
        if keys:
            return tuple(Match(key, Confidence.CODE) for key in sorted(keys))
        return self._by_text(concept.texts, self.condition_text, self.any_condition_text)


def _add(target: dict[str, tuple[str, ...]], code: str, key: str) -> None:
    if key not in target.get(code, ()):
        target[code] = (*target.get(code, ()), key)


@functools.cache
def fact_index(knowledge: Knowledge) -> FactIndex:
    """The lookups for one knowledge base (cached: a Knowledge hashes by identity)."""
    rxnorm: dict[str, tuple[str, ...]] = {}
    atc: dict[str, tuple[str, ...]] = {}
    snomed: dict[str, tuple[str, ...]] = {}
    icd: dict[str, tuple[str, ...]] = {}
    for group in knowledge.drug_groups:
        for code in (*group.ingredients, *group.products):
            _add(rxnorm, code, group.id)
        for code in group.atc:
            _add(atc, code, group.id)
    for item in knowledge.condition_sets:
        for code in item.snomed:
            _add(snomed, code, item.id)
        for code in item.icd10cm:
            _add(icd, _icd_key(code), item.id)
    drug_names = ((_phrase_pattern(g.names), g.id, _phrase_pattern(g.name_exclusions)) for g in knowledge.drug_groups)
    condition_text = ((_phrase_pattern(s.text), s.id, None) for s in knowledge.condition_sets)
    return FactIndex(
        loinc={code: a.id for a in knowledge.analytes.values() for code in a.loinc},
        rxnorm=rxnorm,
        atc=atc,
        atc_prefixes=tuple((p, g.id) for g in knowledge.drug_groups for p in g.atc_prefixes),
        drug_names=tuple((p, key, unless) for p, key, unless in drug_names if p is not None),
        snomed=snomed,
        icd=icd,
        icd_prefixes=tuple((_icd_key(p), s.id) for s in knowledge.condition_sets for p in s.icd10cm_prefixes),
        condition_text=tuple((p, key, unless) for p, key, unless in condition_text if p is not None),
        any_drug_name=_phrase_pattern(name for g in knowledge.drug_groups for name in g.names),
        any_condition_text=_phrase_pattern(text for s in knowledge.condition_sets for text in s.text),
        local=frozenset(
            {(RXNORM_SYSTEM, code) for code in knowledge.local_rxnorm}
            | {(ATC_SYSTEM, code) for code in knowledge.local_atc}
        ),
    )
