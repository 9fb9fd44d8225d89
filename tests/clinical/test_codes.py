"""Every code in the knowledge base has the right system format and check digit."""

from __future__ import annotations

import re

import pytest

from service.knowledge import DrugGroup, load_knowledge

LOINC = re.compile(r"^\d{1,7}-\d$")
RXNORM = re.compile(r"^\d{1,8}$")
ATC = re.compile(r"^[A-Z]\d{2}[A-Z]{2}\d{2}$")
ATC_PREFIX = re.compile(r"^[A-Z]\d{2}[A-Z]{0,2}$")
SNOMED = re.compile(r"^[1-9]\d{5,17}$")
ICD10CM = re.compile(r"^[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?$")
ICD10CM_PREFIX = re.compile(r"^[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,3})?$")

_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_valid(number: str) -> bool:
    """True when the last digit is the Verhoeff check digit of the rest (SNOMED CT identifiers)."""
    check = 0
    for position, digit in enumerate(reversed(number)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


def loinc_check_digit(body: str) -> int:
    """LOINC Mod-10 check digit of the part before the hyphen."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def test_check_digit_helpers_on_known_codes() -> None:
    assert loinc_check_digit("2160") == 0 and loinc_check_digit("1751") == 7
    assert verhoeff_valid("82470000") and verhoeff_valid("368581000119106")
    assert not verhoeff_valid("82470001")


KNOWLEDGE = load_knowledge()
LOINC_CODES = sorted({c for a in KNOWLEDGE.analytes.values() for c in (*a.loinc, a.order.loinc)})
RXNORM_CODES = sorted({c for g in KNOWLEDGE.drug_groups for c in (*g.ingredients, *g.products)})
ATC_CODES = sorted({c for g in KNOWLEDGE.drug_groups for c in g.atc})
ATC_PREFIXES = sorted({c for g in KNOWLEDGE.drug_groups for c in g.atc_prefixes})
SNOMED_CODES = sorted({c for s in KNOWLEDGE.condition_sets for c in s.snomed})
ICD_CODES = sorted({c for s in KNOWLEDGE.condition_sets for c in s.icd10cm})
ICD_PREFIXES = sorted({c for s in KNOWLEDGE.condition_sets for c in s.icd10cm_prefixes})


@pytest.mark.parametrize("code", LOINC_CODES)
def test_loinc_format_and_check_digit(code: str) -> None:
    assert LOINC.match(code)
    body, check = code.split("-")
    assert loinc_check_digit(body) == int(check)


@pytest.mark.parametrize("group", KNOWLEDGE.drug_groups, ids=lambda g: g.id)
def test_rxnorm_is_digits(group: DrugGroup) -> None:
    bad = [code for code in (*group.ingredients, *group.products) if not RXNORM.match(code)]
    assert not bad


@pytest.mark.parametrize("group", KNOWLEDGE.drug_groups, ids=lambda g: g.id)
def test_atc_code_format(group: DrugGroup) -> None:
    assert not [code for code in group.atc if not ATC.match(code)]


@pytest.mark.parametrize("code", ATC_PREFIXES)
def test_atc_prefix_format(code: str) -> None:
    assert ATC_PREFIX.match(code)


@pytest.mark.parametrize("code", SNOMED_CODES)
def test_snomed_format_and_verhoeff(code: str) -> None:
    assert SNOMED.match(code)
    assert verhoeff_valid(code)


@pytest.mark.parametrize("code", ICD_CODES)
def test_icd10cm_code_has_the_dot(code: str) -> None:
    assert ICD10CM.match(code)


@pytest.mark.parametrize("code", ICD_PREFIXES)
def test_icd10cm_prefix_format(code: str) -> None:
    assert ICD10CM_PREFIX.match(code)


def test_reference_traps_are_absent() -> None:
    """Codes the reference marks wrong or unverified are not used (1709-5, 1996-8, 857004, 4521), and 197528 (seen
    labelled "lithium carbonate 300 mg capsule") is only what RxNorm says it is: clonazepam 1 mg."""
    assert not {"1709-5", "1996-8"} & set(LOINC_CODES)
    assert not {"857004", "4521"} & set(RXNORM_CODES)
    holders = {g.id: g.products["197528"] for g in KNOWLEDGE.drug_groups if "197528" in g.products}
    assert holders in ({}, {"benzodiazepine-withdrawal": "Clonazepam 1 MG Oral Tablet"})
    lithium = KNOWLEDGE.drug_group("lithium")
    assert {"6448", "42351", "52105"} <= set(lithium.ingredients)
