"""Drug products, not only ingredients: generated RxNorm products, brand names, ATC combinations, local forms, and the
platinum agents - through ``evaluate`` and over HTTP, plus the generator and the loader's checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from flask.testing import FlaskClient

from service.facts import Confidence
from service.facts.code_index import ATC_SYSTEM, RXNORM_SYSTEM, Concept, fact_index
from service.facts.medications import medication_uses
from service.facts.records import build_record
from service.knowledge import Knowledge, KnowledgeError, load_knowledge_from
from service.knowledge.generate_products import OUTPUT, generate
from tests.clinical.both_paths import Cards, both_paths, only_card, rule_id
from tests.synthea_data import read_bundle, synthea_paths

from .test_scenarios import EXPECTED

PRODUCT_SCENARIOS = [
    "advair_fasciculation",
    "combivent_atc_only",
    "sudafed_brand_only",
    "sudafed_pe_brand_only",
    "namzaric_fasciculation",
    "lithium_zestoretic_started",
    "eye_drop_cyclosporine_low_magnesium",
    "oxaliplatin_recent_infusion",
    "oxaliplatin_weeks_ago",
    "oxaliplatin_neuropathy_no_fasciculation",
    "cisplatin_low_magnesium",
    "cisplatin_normal_magnesium",
]
BY_NAME = "recognised by name only"


def _rules(cards: Cards) -> list[tuple[str, str]]:
    return [(rule_id(c), c["indicator"]) for c in cards]


@pytest.mark.parametrize("name", PRODUCT_SCENARIOS)
def test_product_scenario_through_cli_and_http(client: FlaskClient, name: str) -> None:
    for cards in both_paths(client, name):
        assert _rules(cards) == EXPECTED[name][1]


def test_generated_products_are_what_the_sources_give() -> None:
    medications = yaml.safe_load((OUTPUT.parent / "medications.yaml").read_text(encoding="utf-8"))
    text, conflicts = generate(medications)
    assert conflicts == []
    assert OUTPUT.read_text(encoding="utf-8") == text, "run: python -m service.knowledge.generate_products"


def test_combination_products_are_recognised_by_code(client: FlaskClient) -> None:
    for cards in both_paths(client, "advair_fasciculation"):
        card = only_card(cards, "drug.beta2-agonist")
        assert card["summary"].startswith("Salmeterol active") and BY_NAME not in card["detail"]
    for cards in both_paths(client, "namzaric_fasciculation"):
        card = only_card(cards, "drug.cholinesterase-inhibitor")
        assert card["summary"].startswith("Donepezil active") and BY_NAME not in card["detail"]


def test_atc_combination_code_alone_names_the_beta2_agonist(client: FlaskClient) -> None:
    for cards in both_paths(client, "combivent_atc_only"):
        card = only_card(cards, "drug.beta2-agonist")
        assert card["summary"] == "Combivent active: can cause twitching" and BY_NAME not in card["detail"]


def test_brand_name_in_text_names_the_stimulant_with_lower_confidence(client: FlaskClient) -> None:
    for cards in both_paths(client, "sudafed_brand_only"):
        card = only_card(cards, "drug.stimulant")
        assert card["summary"].startswith("Sudafed active") and BY_NAME in card["detail"]


def test_lithium_interaction_inside_a_combination_product(client: FlaskClient) -> None:
    """Zestoretic (lisinopril / hydrochlorothiazide) started after the last level: both interacting drugs named."""
    for cards in both_paths(client, "lithium_zestoretic_started"):
        card = only_card(cards, "drug.lithium")
        assert "last level predates" in card["summary"]
        assert "Hydrochlorothiazide (thiazide" in card["detail"] and "Lisinopril (angiotensin" in card["detail"]
        assert BY_NAME not in card["detail"]


def test_eye_drops_are_no_contributor(client: FlaskClient) -> None:
    for cards in both_paths(client, "eye_drop_cyclosporine_low_magnesium"):
        card = only_card(cards, "lab.magnesium.low")
        assert "contributors" not in card["detail"] and "yclosporine" not in card["detail"]


def test_oxaliplatin_card_says_acute_hyperexcitability(client: FlaskClient) -> None:
    for cards in both_paths(client, "oxaliplatin_recent_infusion"):
        card = only_card(cards, "drug.oxaliplatin")
        assert card["summary"] == "Oxaliplatin given 48 h ago: acute nerve hyperexcitability after infusion"
        assert "neuromyotonic discharges" in card["detail"] and "cold" in card["detail"]
        assert "Muscle Nerve 2004" in card["detail"]  # the primary source is on the card


def test_cisplatin_is_named_with_its_magnesium_wasting(client: FlaskClient) -> None:
    for cards in both_paths(client, "cisplatin_low_magnesium"):
        card = only_card(cards, "lab.magnesium.low")
        assert "Cisplatin (cisplatin; MedicationRequest stopped 30 days ago" in card["detail"]
        assert "Cisplatin makes the kidney waste magnesium" in card["detail"]


def _concept(*codings: tuple[str, str], text: str = "") -> Concept:
    return Concept(tuple(codings), (text,) if text else ())


def test_local_form_code_stops_the_name_fallback(knowledge: Knowledge) -> None:
    index = fact_index(knowledge)
    eye_drops = _concept((RXNORM_SYSTEM, "402092"), text="Cyclosporine eye drops")
    assert index.match_drug(eye_drops) == ()
    assert index.match_drug(_concept((ATC_SYSTEM, "S01XA18"), text="ciclosporin eye drops")) == ()
    assert [m.key for m in index.match_drug(_concept(text="Cyclosporine 100 mg capsule"))] == ["calcineurin-inhibitor"]


def test_longer_brand_of_another_drug_is_no_match(knowledge: Knowledge) -> None:
    index = fact_index(knowledge)
    assert index.match_drug(_concept(text="Sudafed PE Congestion")) == ()
    assert [m.key for m in index.match_drug(_concept(text="Sudafed 12 hour"))] == ["stimulant"]
    both = index.match_drug(_concept(text="Sudafed PE and Sudafed tablets"))  # the exclusion removes only "Sudafed PE"
    assert [(m.key, m.confidence) for m in both] == [("stimulant", Confidence.TEXT)]


def test_combination_product_belongs_to_every_group_it_holds(knowledge: Knowledge) -> None:
    index = fact_index(knowledge)
    keys = [m.key for m in index.match_drug(_concept((RXNORM_SYSTEM, "823986")))]  # Zestoretic 10/12.5
    assert keys == ["ace-inhibitor", "thiazide-diuretic"]
    assert [m.key for m in index.match_drug(_concept((ATC_SYSTEM, "R01BA52")))] == ["stimulant"]
    assert [m.key for m in index.match_drug(_concept((ATC_SYSTEM, "R03AK06")))] == ["beta2-agonist"]


@pytest.mark.parametrize("path", synthea_paths(), ids=lambda p: p.stem.split("_")[0])
def test_synthea_medications_are_recognised_by_code(path: Path, knowledge: Knowledge) -> None:
    """Every Synthea product of a culprit group is known by its RxNorm code (before: 41 requests by name only)."""
    uses = list(medication_uses(build_record([read_bundle(path)]), knowledge))
    assert [u.name for u in uses if u.confidence == Confidence.TEXT] == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("groups", "no-such-group"), "unknown drug group 'no-such-group'"),
        (("sources", "no-such-source"), "unknown citation 'no-such-source'"),
        (("code", "89620x"), "bad code '89620x'"),
    ],
)
def test_loader_refuses_a_bad_products_file(knowledge_copy: Path, edit: tuple[str, str], message: str) -> None:
    path = knowledge_copy / "medications_products.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    kind, value = edit
    if kind == "groups":
        document["groups"][value] = document["groups"]["lithium"]
    elif kind == "sources":
        document["sources"].append(value)
    else:
        document["groups"]["beta2-agonist"]["rxnorm"]["synthea-modules"][value] = "a drug"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge_from(knowledge_copy)
