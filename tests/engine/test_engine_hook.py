"""The patient-view hook through service.create_app with the engine as fhirServer: no, partial, full, paged prefetch."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.engine.conftest import ENGINE_TOKEN, EngineFactory
from tests.engine.engine_scenarios import fasciculation_transaction
from tests.engine.fhir_engine_harness import FhirEngine, LoadedPatient, load_transaction
from tests.engine.hook_calls import call, client_prefetch, engine_app, hook_body, templates


@pytest.fixture(scope="module")
def app(engine: FhirEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The real app, allowed to call the session engine only."""
    with engine_app(tmp_path_factory.mktemp("hook-db"), engine.base_url) as flask_app:
        yield flask_app


@pytest.fixture(scope="module")
def expected(app: Flask, engine: FhirEngine, scenario: LoadedPatient) -> list[dict[str, Any]]:
    """The cards for the scenario patient when the client prefetches every key completely."""
    prefetch = client_prefetch(engine, templates(app), scenario.patient_id, templates(app))
    status, answer = call(app, hook_body(engine.base_url, scenario.patient_id, prefetch, token=None))
    assert status == 200, answer
    cards: list[dict[str, Any]] = answer["cards"]
    return cards


def summaries(cards: list[dict[str, Any]]) -> list[str]:
    """The card summaries, in order."""
    return [c["summary"] for c in cards]


def test_full_prefetch_gives_the_scenario_cards(expected: list[dict[str, Any]]) -> None:
    """Low magnesium and lithium (found through the included Medication) are both on the cards."""
    text = " ".join(summaries(expected)).lower()
    assert "magnesium" in text
    assert "lithium" in text


def test_no_prefetch_reads_every_key_from_the_engine(
    app: Flask, engine: FhirEngine, scenario: LoadedPatient, expected: list[dict[str, Any]]
) -> None:
    """With no prefetch at all, the service reads every key from the engine with the lent token."""
    status, answer = call(app, hook_body(engine.base_url, scenario.patient_id, {}, token=ENGINE_TOKEN))
    assert status == 200, answer
    assert answer["cards"] == expected


@pytest.mark.parametrize("sent", [("patient",), ("patient", "conditions"), ("labs", "medicationRequests")])
def test_partial_prefetch_is_completed_from_the_engine(
    app: Flask, engine: FhirEngine, scenario: LoadedPatient, expected: list[dict[str, Any]], sent: tuple[str, ...]
) -> None:
    """Keys the client did not send are read from the engine; the cards do not change."""
    prefetch = client_prefetch(engine, templates(app), scenario.patient_id, sent)
    status, answer = call(app, hook_body(engine.base_url, scenario.patient_id, prefetch, token=ENGINE_TOKEN))
    assert status == 200, answer
    assert answer["cards"] == expected


def test_paged_prefetch_is_completed_from_the_engine(
    app: Flask, engine: FhirEngine, scenario: LoadedPatient, expected: list[dict[str, Any]]
) -> None:
    """Every key sent as the first page of two entries with a next link: the service reads the remaining pages."""
    prefetch = client_prefetch(engine, templates(app), scenario.patient_id, templates(app), first_page_size=2)
    assert any(link["relation"] == "next" for link in prefetch["labs"]["link"])
    status, answer = call(app, hook_body(engine.base_url, scenario.patient_id, prefetch, token=ENGINE_TOKEN))
    assert status == 200, answer
    assert answer["cards"] == expected


def test_without_the_token_the_fallback_is_412(app: Flask, engine: FhirEngine, scenario: LoadedPatient) -> None:
    """No fhirAuthorization: the engine answers 401, so every missing key is 412 (the prefetch it got is fine)."""
    prefetch = client_prefetch(engine, templates(app), scenario.patient_id, ("patient",))
    status, answer = call(app, hook_body(engine.base_url, scenario.patient_id, prefetch, token=None))
    assert status == 412
    assert answer["error"] == "precondition_failed"
    assert "patient" not in answer["prefetch"]


def test_unknown_patient_is_412(app: Flask, engine: FhirEngine) -> None:
    """The engine's 404 for the Patient read becomes 412 naming the patient key."""
    status, answer = call(app, hook_body(engine.base_url, str(uuid.uuid4()), {}, token=ENGINE_TOKEN))
    assert status == 412
    assert answer["prefetch"] == ["patient"]


def test_engine_off_the_allow_list_is_never_called(
    engine: FhirEngine, scenario: LoadedPatient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An app whose allow-list names another server answers 412 without contacting the engine."""
    before = settled_line_count(engine.log_path)
    with engine_app(tmp_path_factory.mktemp("hook-db"), "https://fhir.example.org/r4") as other:
        status, _ = call(other, hook_body(engine.base_url, scenario.patient_id, {}, token=ENGINE_TOKEN))
    assert status == 412
    assert settled_line_count(engine.log_path) == before


def settled_line_count(path: Path) -> int:
    """Lines in the engine's request log once earlier requests are all written (it logs after answering)."""
    count = path.read_text().count("\n")
    while True:
        time.sleep(0.25)
        again = path.read_text().count("\n")
        if again == count:
            return count
        count = again


@pytest.fixture(scope="module")
def small_pages(engine_factory: EngineFactory) -> tuple[FhirEngine, LoadedPatient]:
    """An engine that never answers more than two entries a page, holding the scenario patient."""
    paging = engine_factory(["--max-count", "2"])
    return paging, load_transaction(paging, fasciculation_transaction(), "small-pages")


def test_server_side_paging_in_the_hook_path(
    small_pages: tuple[FhirEngine, LoadedPatient], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The server caps pages at 2 whatever _count asks: the service follows next links and gets the same cards."""
    engine, patient = small_pages
    with engine_app(tmp_path_factory.mktemp("hook-db"), engine.base_url) as paged_app:
        complete = client_prefetch(engine, templates(paged_app), patient.patient_id, templates(paged_app))
        assert len(complete["labs"]["entry"]) == 7
        status, full = call(paged_app, hook_body(engine.base_url, patient.patient_id, complete, token=None))
        assert status == 200, full
        status, fetched = call(paged_app, hook_body(engine.base_url, patient.patient_id, {}, token=ENGINE_TOKEN))
        assert status == 200, fetched
    assert fetched["cards"] == full["cards"]
    assert "magnesium" in " ".join(summaries(full["cards"])).lower()


def test_page_cap_truncates_and_warns(
    small_pages: tuple[FhirEngine, LoadedPatient],
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With CDS_FHIR_MAX_PAGES=2 only four labs are read: the call still answers, and the cut is logged."""
    engine, patient = small_pages
    with (
        engine_app(tmp_path_factory.mktemp("hook-db"), engine.base_url, fhir_max_pages=2) as capped_app,
        caplog.at_level(logging.WARNING, logger="cds_hooks.fhir_client"),
    ):
        status, answer = call(capped_app, hook_body(engine.base_url, patient.patient_id, {}, token=ENGINE_TOKEN))
    assert status == 200, answer
    assert "paging stopped at the cap of 2 pages" in caplog.text
