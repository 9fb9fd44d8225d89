"""The clinical knowledge base: YAML files under ``service/knowledge/``, validated once, immutable afterwards.

Every cross-reference is resolved at load time (citations, labs, card rules, summary placeholders), so a bad file
stops the app from starting with a ``KnowledgeError`` instead of failing one request at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from service.facts.units import is_ucum
from service.knowledge.base import Knowledge
from service.knowledge.card_text import PHRASE_FIELDS, SUMMARY_FIELDS, CardText
from service.knowledge.checks import (
    KnowledgeError,
    check_drugs_and_conditions,
    check_parathyroid,
    check_refs,
    placeholders,
    unique,
)
from service.knowledge.condition_models import ConditionSet, ConditionsFile
from service.knowledge.models import (
    Analyte,
    Citation,
    CitationsFile,
    ConditionRole,
    DrugGroup,
    DrugKind,
    LabFamily,
    LabsFile,
    MedicationsFile,
    ProductsFile,
    read_only,
)
from service.knowledge.order_rules import OrderKnowledge
from service.knowledge.products import PRODUCTS_FILE, check_products, local_codes, with_products
from service.knowledge.reviews import ReviewsFile, check_reviews

M = TypeVar("M", bound=BaseModel)

KNOWLEDGE_DIR = Path(__file__).resolve().parent

RED_FLAGS_RULE = "red-flags"
WORKUP_RULE = "workup.labs"
LITHIUM_TOXIC_RULE = "lab.lithium.toxic"
DENERVATION_RULE = "drug.succinylcholine.denervation"
DENERVATION_GROUP = "succinylcholine"
# Sources the pregnancy readings of TSH and calcium cite (service/rules/labs.py), checked at load.
PREGNANCY_TSH_SOURCES = ("ata-pregnancy-2017",)
PREGNANCY_CALCIUM_SOURCES = ("pitkin-calcium-pregnancy-1979", "perinatology-calcium")
NICOTINIC_SUFFIX = "nicotinic"  # exposure.<set>.nicotinic: the exposure with fasciculations


def _read(path: Path, model: type[M]) -> M:
    """One file, validated by its model; any problem is a KnowledgeError naming the file and the key."""
    try:
        # libyaml's safe loader where PyYAML has it: the generated products file is large (same result as safe_load)
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path.name}: cannot read: {exc}") from exc
    if not isinstance(document, dict):
        raise KnowledgeError(f"{path.name}: expected a mapping at the top level")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors())
        raise KnowledgeError(f"{path.name}: {problems}") from exc


def _check_analytes(analytes: Mapping[str, Analyte], exposure_labs: set[str]) -> None:
    owner: dict[str, str] = {}
    for analyte in analytes.values():
        for code in analyte.loinc:
            if code in owner:
                raise KnowledgeError(f"LOINC {code} is in both {owner[code]} and {analyte.id}")
            owner[code] = analyte.id
        if analyte.order.loinc not in analyte.loinc:
            raise KnowledgeError(f"labs.yaml {analyte.id}: order code {analyte.order.loinc} not in its LOINC set")
        if analyte.alternative_to is not None and analyte.alternative_to not in analytes:
            raise KnowledgeError(f"labs.yaml {analyte.id}: unknown alternative_to {analyte.alternative_to!r}")
        if not is_ucum(analyte.canonical_unit):
            raise KnowledgeError(f"labs.yaml {analyte.id}: canonical unit {analyte.canonical_unit!r} is not UCUM")
        for alias, target in analyte.unit_aliases.items():
            if not is_ucum(target):
                raise KnowledgeError(f"labs.yaml {analyte.id}: unit alias {alias!r} maps to non-UCUM {target!r}")
        if analyte.qualitative and analyte.flag:
            raise KnowledgeError(f"labs.yaml {analyte.id}: a qualitative screen is shown as reported, never flagged")
        if analyte.flag and analyte.finding is None and analyte.id not in exposure_labs:
            raise KnowledgeError(f"labs.yaml {analyte.id}: a flagged analyte needs a finding or an exposure set")


def expected_rule_ids(
    analytes: Mapping[str, Analyte],
    groups: Iterable[DrugGroup],
    sets: Iterable[ConditionSet],
    nicotinic: str | None = None,
) -> set[str]:
    """Every rule id the screen can emit, each of which needs a card text."""
    ids = {RED_FLAGS_RULE, WORKUP_RULE, LITHIUM_TOXIC_RULE, DENERVATION_RULE}
    ids |= {f"lab.{a.finding}.{d}" for a in analytes.values() if a.finding for d in a.flag}
    ids |= {f"drug.{g.id}" for g in groups if g.kind in (DrugKind.DIRECT, DrugKind.LITHIUM)}
    ids |= {f"exposure.{s.id}" for s in sets if s.role == ConditionRole.EXPOSURE}
    ids |= {f"condition.{s.id}" for s in sets if s.card}  # issue 25: nerve hyperexcitability
    if nicotinic is not None:
        ids.add(f"exposure.{nicotinic}.{NICOTINIC_SUFFIX}")
    return ids


def _family(rule_id: str) -> str:
    if rule_id in (RED_FLAGS_RULE,):
        return "red-flags"
    return "workup" if rule_id == WORKUP_RULE else rule_id.split(".", 1)[0]


def _check_cards(
    cards: CardText, expected: set[str], citations: Mapping[str, Citation], analytes: Mapping[str, Analyte]
) -> None:
    missing, extra = expected - set(cards.rules), set(cards.rules) - expected
    if missing or extra:
        raise KnowledgeError(f"cards.yaml: rules without text {sorted(missing)}; texts without rule {sorted(extra)}")
    for rule in cards.rules.values():
        allowed = SUMMARY_FIELDS[_family(rule.id)]
        unknown = placeholders(rule.summary) - allowed
        if unknown:
            raise KnowledgeError(f"cards.yaml {rule.id}: unknown placeholder(s) {sorted(unknown)}")
        for text in (rule.why, rule.action):
            if placeholders(text):
                raise KnowledgeError(f"cards.yaml {rule.id}: why/action take no placeholders")
        check_refs(f"cards.yaml {rule.id}", "citation", rule.citations, citations)
        check_refs(f"cards.yaml {rule.id}", "lab", rule.labs, analytes)
    if set(cards.phrases) != set(PHRASE_FIELDS):
        raise KnowledgeError(f"cards.yaml phrases: expected exactly {sorted(PHRASE_FIELDS)}")
    for key, text in cards.phrases.items():
        if not placeholders(text) <= PHRASE_FIELDS[key]:
            raise KnowledgeError(f"cards.yaml phrase {key}: unknown placeholder(s) in {text!r}")


def _check_orders(
    orders: OrderKnowledge, groups: Iterable[DrugGroup], citations: Mapping[str, Citation], rule_ids: set[str]
) -> None:
    unique("order trigger", (t.id for t in orders.triggers))
    for trigger in orders.triggers:
        check_refs(f"orders.yaml {trigger.id}", "citation", trigger.citations, citations)
        if placeholders(trigger.framing):
            raise KnowledgeError(f"orders.yaml {trigger.id}: framing takes no placeholders")
    kinds = {g.id: g.kind for g in groups}
    unique("culprit group", orders.culprit_groups)
    for culprit in orders.culprits:
        if kinds.get(culprit.group) not in (DrugKind.DIRECT, DrugKind.LITHIUM):
            raise KnowledgeError(f"orders.yaml culprits: {culprit.group!r} is not a direct or lithium drug group")
        check_refs(f"orders.yaml culprits {culprit.group}", "rule", culprit.rules, dict.fromkeys(rule_ids))
        check_refs(f"orders.yaml culprits {culprit.group}", "rule", culprit.ordered_now, dict.fromkeys(culprit.rules))
    if placeholders(orders.culprit_framing) or placeholders(orders.culprit_status):
        raise KnowledgeError("orders.yaml: culprit_framing and culprit_status take no placeholders")


def _loinc_codes(analytes: Mapping[str, Analyte], panels: Iterable[str]) -> tuple[str, ...]:
    """Every analyte code and every panel code (its components are read), sorted: the labs prefetch asks for them."""
    return tuple(sorted({code for analyte in analytes.values() for code in analyte.loinc} | set(panels)))


def _check_families(
    families: Iterable[LabFamily], analytes: Mapping[str, Analyte], citations: Mapping[str, Any]
) -> None:
    unique("lab family", (f.id for f in families))
    seen: set[str] = set()
    for family in families:
        where = f"labs.yaml families {family.id}"
        check_refs(where, "lab", (*family.labs, *family.answers_also), analytes)
        members = (family.order_as, family.answered_by, *family.also_answered_by)
        check_refs(where, "member", members, dict.fromkeys(family.labs))
        check_refs(where, "citation", family.citations, citations)
        if seen & set(family.labs):
            raise KnowledgeError(f"{where}: {sorted(seen & set(family.labs))} already in another family")
        seen |= set(family.labs)


def _check_labs(labs: LabsFile, conditions: ConditionsFile, citations: Mapping[str, Citation]) -> None:
    unique("analyte", (a.id for a in labs.analytes))
    analytes = {a.id: a for a in labs.analytes}
    exposure_labs = {lab for s in conditions.sets if s.role == ConditionRole.EXPOSURE for lab in s.labs}
    _check_analytes(analytes, exposure_labs)
    check_refs("labs.yaml albumin_correction", "citation", labs.albumin_correction.citations, citations)
    check_refs("labs.yaml unit_citations", "citation", labs.unit_citations, citations)
    for alias, target in labs.unit_aliases.items():
        if not is_ucum(target):
            raise KnowledgeError(f"labs.yaml unit_aliases: {alias!r} maps to non-UCUM {target!r}")
    for analyte in analytes.values():
        check_refs(f"labs.yaml {analyte.id}", "citation", analyte.citations, citations)
    if set(labs.display_decimals) != set(analytes):
        wrong = sorted(set(labs.display_decimals) ^ set(analytes))
        raise KnowledgeError(f"labs.yaml display_decimals: needs exactly one entry per analyte (check {wrong})")
    _check_families(labs.families, analytes, citations)
    if labs.onset_timing is not None:
        check_refs("labs.yaml onset_timing", "citation", labs.onset_timing.citations, citations)
    if labs.panels is not None:
        check_refs("labs.yaml panels", "citation", labs.panels.citations, citations)
        shared = set(labs.panels.loinc) & {code for a in analytes.values() for code in a.loinc}
        if shared:
            raise KnowledgeError(f"labs.yaml panels: {sorted(shared)} are analyte codes, not panels")


def load_knowledge_from(directory: Path | str) -> Knowledge:
    """Load and validate the knowledge files in ``directory``; raise KnowledgeError on any problem."""
    folder = Path(directory)
    cites = _read(folder / "citations.yaml", CitationsFile)
    labs = _read(folder / "labs.yaml", LabsFile)
    meds = _read(folder / "medications.yaml", MedicationsFile)
    conditions = _read(folder / "conditions.yaml", ConditionsFile)
    cards = _read(folder / "cards.yaml", CardText)
    unique("citation", (c.id for c in cites.citations))
    citations = read_only({c.id: c for c in cites.citations})
    check_refs("citations.yaml code_systems", "citation", (v.citation for v in cites.code_systems.values()), citations)
    _check_labs(labs, conditions, citations)
    analytes = read_only({a.id: a.model_copy(update={"decimals": labs.display_decimals[a.id]}) for a in labs.analytes})
    check_drugs_and_conditions(meds, conditions, citations, analytes)
    products = _read(folder / PRODUCTS_FILE, ProductsFile)
    check_products(products, meds.groups, citations)
    local_rxnorm, local_atc = local_codes(products)
    if labs.parathyroid is not None:
        check_parathyroid(labs.parathyroid, analytes, meds.groups, citations)
    check_refs("pregnancy rules", "citation", (*PREGNANCY_TSH_SOURCES, *PREGNANCY_CALCIUM_SOURCES), citations)
    expected = expected_rule_ids(analytes, meds.groups, conditions.sets, conditions.nicotinic_toxicity.exposure)
    _check_cards(cards, expected, citations, analytes)
    orders = _read(folder / "orders.yaml", OrderKnowledge)
    _check_orders(orders, meds.groups, citations, expected)
    check_refs("orders.yaml silent_rules", "rule", orders.silent_rules, dict.fromkeys(expected))
    reviews = _read(folder / "reviews.yaml", ReviewsFile).reviews
    check_reviews(reviews, expected, cites.version)
    return Knowledge(
        version=cites.version,
        citations=citations,
        analytes=analytes,
        unit_aliases=labs.unit_aliases,
        albumin_correction=labs.albumin_correction,
        families=labs.families,
        drug_groups=with_products(meds.groups, products),
        local_rxnorm=local_rxnorm,
        local_atc=local_atc,
        product_sources=products.sources,
        condition_sets=conditions.sets,
        cards=cards,
        lab_loinc_codes=_loinc_codes(analytes, labs.panels.loinc if labs.panels else ()),
        orders=orders,
        denervation=conditions.denervation,
        unit_citations=labs.unit_citations,
        observed_signs=conditions.observed_signs,
        nicotinic_toxicity=conditions.nicotinic_toxicity,
        steady_state=meds.steady_state,
        onset_lead=meds.onset_lead,
        lithium_context=meds.lithium_context,
        reading_citations=(
            *(labs.panels.citations if labs.panels else ()),
            *conditions.status_citations,
            *(labs.onset_timing.citations if labs.onset_timing else ()),
            *(conditions.provoking.citations if conditions.provoking else ()),
        ),
        parathyroid=labs.parathyroid,
        code_systems=cites.code_systems,
        reviews=reviews,
        onset_timing=labs.onset_timing,
        provoking=conditions.provoking,
    )


@functools.cache
def load_knowledge() -> Knowledge:
    """The packaged knowledge base, loaded once per process."""
    return load_knowledge_from(KNOWLEDGE_DIR)
