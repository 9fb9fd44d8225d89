"""The generated products (medications_products.yaml): checked against the groups and citations, merged into them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from service.knowledge.checks import KnowledgeError, check_refs
from service.knowledge.models import DrugGroup, ProductsFile, SourceMaps, read_only

PRODUCTS_FILE = "medications_products.yaml"
RXCUI = re.compile(r"^[1-9][0-9]*$")
ATC_CODE = re.compile(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$")  # a WHO ATC level-5 (substance) code


def _check_codes(where: str, maps: SourceMaps, pattern: re.Pattern[str], sources: Iterable[str]) -> None:
    check_refs(where, "source", maps.keys(), dict.fromkeys(sources))
    for source, codes in maps.items():
        for code, name in codes.items():
            if not pattern.match(code) or not name.strip():
                raise KnowledgeError(f"{where} {source}: bad code {code!r} or empty name")


def check_products(products: ProductsFile, groups: Iterable[DrugGroup], citations: Mapping[str, Any]) -> None:
    """Every group is known, every source is a citation, every code has the form of its system and a name."""
    check_refs(PRODUCTS_FILE, "citation", products.sources, citations)
    check_refs(PRODUCTS_FILE, "drug group", products.groups.keys(), {g.id: g for g in groups})
    for group_id, entries in products.groups.items():
        where = f"{PRODUCTS_FILE} {group_id}"
        _check_codes(f"{where} rxnorm", entries.rxnorm, RXCUI, products.sources)
        _check_codes(f"{where} atc", entries.atc, ATC_CODE, products.sources)
        check_refs(f"{where} brands", "source", entries.brands.keys(), dict.fromkeys(products.sources))
    _check_codes(f"{PRODUCTS_FILE} local_products rxnorm", products.local_products.rxnorm, RXCUI, products.sources)
    _check_codes(f"{PRODUCTS_FILE} local_products atc", products.local_products.atc, ATC_CODE, products.sources)


def _merged(maps: SourceMaps) -> dict[str, str]:
    return {code: name for codes in maps.values() for code, name in codes.items()}


def with_products(groups: tuple[DrugGroup, ...], products: ProductsFile) -> tuple[DrugGroup, ...]:
    """The groups with their generated products, brand names, name exclusions and ATC codes added."""
    merged = []
    for group in groups:
        entries = products.groups.get(group.id)
        if entries is None:
            merged.append(group)
            continue
        brands = tuple(name for names in entries.brands.values() for name in names if name not in group.names)
        atc = tuple(code for code in _merged(entries.atc) if code not in group.atc)
        update = {
            "products": read_only({**_merged(entries.rxnorm), **group.products}),
            "atc": (*group.atc, *atc),
            "names": (*group.names, *brands),
            "name_exclusions": (*group.name_exclusions, *entries.name_exclusions),
        }
        merged.append(group.model_copy(update=update))
    return tuple(merged)


def local_codes(products: ProductsFile) -> tuple[frozenset[str], frozenset[str]]:
    """The RxNorm and the ATC codes recognised as no culprit."""
    local = products.local_products
    return frozenset(_merged(local.rxnorm)), frozenset(_merged(local.atc))
