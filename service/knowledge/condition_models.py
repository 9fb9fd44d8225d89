"""The knowledge records of conditions.yaml: condition sets, denervation, signs charted as Observations, toxicity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, Field

from service.knowledge.models import Codes, ConditionRole, NonBlank, PositiveInt, Record, Required, StrMap, read_only


class ConditionSet(Record):
    """A clinical concept matched by SNOMED CT, ICD-10-CM (exact or prefix) or text."""

    id: NonBlank
    display: NonBlank
    role: ConditionRole
    snomed: Codes = ()
    icd10cm: Codes = ()
    icd10cm_prefixes: Codes = ()
    text: Codes = ()
    labs: Codes = ()
    citations: Required
    note: str | None = None  # issue 15: a sentence the screen's cards add when this condition is on record (MMN)


class Denervation(Record):
    """Condition sets that make succinylcholine dangerous: alone, or only together with weakness."""

    always: Required
    with_weakness: Codes = ()
    weakness: Codes = ()
    citations: Required


class ObservedSigns(Record):
    """How a sign charted as an Observation (an exam finding, a pregnancy status) is read."""

    sets: Annotated[Mapping[str, PositiveInt], AfterValidator(read_only)]  # condition set -> look-back days
    questions: StrMap = {}  # LOINC question code -> the set its answer is about (pregnancy status)
    answers: StrMap = {}  # LOINC answer code -> the set it means (LA15173-0 Pregnant)
    question_loinc: Codes = ()  # fetched with the labs (the pregnancy status is no exam finding)
    absent_codes: Codes = ()  # SNOMED CT answers that mean the sign is absent
    absent_interpretations: Codes = ()  # v3 ObservationInterpretation codes that mean absent
    absent_words: Codes = ()  # free-text answers that mean absent
    citations: Required


class NicotinicToxicity(Record):
    """An exposure that, recorded within ``window_days`` with fasciculations, is poisoning, not a work-up."""

    exposure: NonBlank
    window_days: PositiveInt
    citations: Required


class ConditionsFile(Record):
    """conditions.yaml."""

    denervation: Denervation
    sets: Annotated[tuple[ConditionSet, ...], Field(min_length=1)]
    observed_signs: ObservedSigns
    nicotinic_toxicity: NicotinicToxicity
    status_citations: Codes = ()  # issue 25: how clinicalStatus, verificationStatus and abatement[x] are read
