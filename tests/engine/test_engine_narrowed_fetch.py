"""The narrowed FHIR fall-back (labs paging stops once no later page can change a result) gives full-prefetch cards.

An engine that caps pages at a few entries makes every search page; the service, called with no prefetch, stops
paging the labs when its test says so. Its cards must equal the cards of a complete prefetch of the same data, for
the largest Synthea patient, every scenario fixture, and a patient built so that the stop really happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from service.knowledge import load_knowledge
from tests.engine.conftest import ENGINE_TOKEN, EngineFactory
from tests.engine.engine_scenarios import NOW, _entry, _lab, fasciculation_transaction
from tests.engine.fhir_engine_harness import FhirEngine, load_keeping_ids, load_transaction
from tests.engine.hook_calls import call, client_prefetch, engine_app, hook_body, new_hook_instance, templates
from tests.engine.test_engine_fixtures import FIXTURES_NOW, SCENARIOS
from tests.synthea_data import bundle_name, read_bundle, synthea_paths

PAGE_CAP = 5
# Days before NOW of each analyte's results: a recent one, then two older ones on later pages.
RESULT_AGES = (2.0, 45.0, 400.0)


@dataclass(frozen=True)
class PagedEngine:
    """An engine capping pages at PAGE_CAP entries, with the patients it holds."""

    engine: FhirEngine
    largest_synthea: str
    scenarios: dict[str, str]
    every_analyte: str


def every_analyte_transaction() -> dict[str, Any]:
    """The engine scenario patient plus three results of every analyte the rules read (so the labs stop can fire)."""
    bundle = fasciculation_transaction(family="EveryLab", extra_calcium_results=0)
    ref = bundle["entry"][0]["fullUrl"]
    for index, analyte in enumerate(load_knowledge().analytes.values()):
        low, high = analyte.fallback_range.low or 1.0, analyte.fallback_range.high or 2.0
        for age in RESULT_AGES:
            lab = _lab(ref, analyte.loinc[0], analyte.display, round((low + high) / 2, 2), analyte.canonical_unit, age)
            bundle["entry"].append(_entry({**lab, "effectiveDateTime": _minutes_before(age, index)}))
    return bundle


def _minutes_before(days: float, minutes: int) -> str:
    """A distinct instant per analyte (no two results share a date)."""
    return (NOW - timedelta(days=days, minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def paged(engine_factory: EngineFactory) -> PagedEngine:
    """One small-page engine holding the largest Synthea patient, every scenario fixture and the every-lab patient."""
    engine = engine_factory(["--max-count", str(PAGE_CAP)])
    largest = max(synthea_paths(), key=lambda path: len(read_bundle(path).get("entry") or []))
    synthea = load_transaction(engine, read_bundle(largest), bundle_name(largest))
    scenarios: dict[str, str] = {}
    for path in SCENARIOS:
        bundle = json.loads(path.read_bytes())
        load_keeping_ids(engine, bundle)
        scenarios[path.stem] = next(
            e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
        )
    every = load_transaction(engine, every_analyte_transaction(), "every-analyte")
    return PagedEngine(engine, synthea.patient_id, scenarios, every.patient_id)


@pytest.fixture(scope="module")
def app_now(paged: PagedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app at the engine scenarios' instant (Synthea and the every-lab patient)."""
    with engine_app(tmp_path_factory.mktemp("narrow-db"), paged.engine.base_url) as app:
        yield app


@pytest.fixture(scope="module")
def app_fixtures(paged: PagedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app at the scenario fixtures' instant."""
    with engine_app(tmp_path_factory.mktemp("narrow-fix-db"), paged.engine.base_url, clock=lambda: FIXTURES_NOW) as app:
        yield app


def observation_gets(engine: FhirEngine, since: int) -> int:
    """Observation GETs in the engine's access log after byte ``since``."""
    lines = engine.log_path.read_bytes()[since:].decode(errors="replace").splitlines()
    return sum(1 for line in lines if line.startswith("GET ") and "/Observation" in line)


def cards_both_ways(app: Flask, engine: FhirEngine, patient_id: str) -> tuple[list[Any], list[Any], int]:
    """(cards with a complete client prefetch, cards with no prefetch, Observation GETs of the no-prefetch call)."""
    full = client_prefetch(engine, templates(app), patient_id, templates(app))
    instance = new_hook_instance()  # one per patient: card uuids follow the hookInstance
    status, with_prefetch = call(app, hook_body(engine.base_url, patient_id, full, None, instance))
    assert status == 200, with_prefetch
    before = engine.log_path.stat().st_size
    status, fetched = call(app, hook_body(engine.base_url, patient_id, {}, ENGINE_TOKEN, instance))
    assert status == 200, fetched
    return with_prefetch["cards"], fetched["cards"], observation_gets(engine, before)


def test_largest_synthea_patient_same_cards(app_now: Flask, paged: PagedEngine) -> None:
    """Hundreds of Observations over many pages: the narrowed fall-back gives the full prefetch's cards."""
    full, fetched, gets = cards_both_ways(app_now, paged.engine, paged.largest_synthea)
    assert fetched == full
    assert gets > 1  # the search really paged


@pytest.mark.parametrize("name", [p.stem for p in SCENARIOS])
def test_scenario_fixtures_same_cards(app_fixtures: Flask, paged: PagedEngine, name: str) -> None:
    """Every clinical scenario fixture: the narrowed fall-back gives the full prefetch's cards."""
    full, fetched, _ = cards_both_ways(app_fixtures, paged.engine, paged.scenarios[name])
    assert fetched == full


def test_stop_fires_and_keeps_the_cards(app_now: Flask, paged: PagedEngine) -> None:
    """Every analyte has a recent result on the first pages: paging stops early and the cards do not change."""
    full, fetched, gets = cards_both_ways(app_now, paged.engine, paged.every_analyte)
    assert fetched == full
    analytes = len(load_knowledge().analytes)
    all_pages = -(-analytes * len(RESULT_AGES) // PAGE_CAP)
    assert gets < all_pages, f"{gets} Observation GETs; reading every page takes {all_pages}"
    assert full  # the patient has documented fasciculation: there are cards to compare
