"""Session fixtures: the Node FHIR engine on a free loopback port, loaded with the Synthea patients."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.engine_scenarios import fasciculation_transaction
from tests.engine.fhir_engine_harness import (
    FhirEngine,
    LoadedPatient,
    load_synthea,
    load_transaction,
    start_engine,
    synthea_files,
)

ENGINE_TOKEN = "engine-test-token"


@dataclass(frozen=True)
class LoadedEngine:
    """The session engine with the Synthea patients it holds."""

    engine: FhirEngine
    patients: tuple[LoadedPatient, ...]

    @property
    def base_url(self) -> str:
        """The engine's FHIR base URL."""
        return self.engine.base_url


@pytest.fixture(scope="session")
def loaded_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedEngine]:
    """One token-protected engine for the session, holding all 18 Synthea patients (loaded by transaction)."""
    engine = start_engine(tmp_path_factory.mktemp("fhir-engine"), token=ENGINE_TOKEN)
    try:
        yield LoadedEngine(engine, tuple(load_synthea(engine, synthea_files())))
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def engine(loaded_engine: LoadedEngine) -> FhirEngine:
    """The session engine."""
    return loaded_engine.engine


@pytest.fixture(scope="session")
def patient(loaded_engine: LoadedEngine) -> LoadedPatient:
    """A Synthea patient with a few hundred resources (the largest file's patient is slower to page)."""
    return loaded_engine.patients[0]


@pytest.fixture(scope="session")
def scenario(engine: FhirEngine) -> LoadedPatient:
    """A fasciculation patient with low magnesium and lithium by Medication reference, loaded by transaction."""
    return load_transaction(engine, fasciculation_transaction(), "fasciculation-scenario")


EngineFactory = Callable[[Sequence[str]], FhirEngine]


@pytest.fixture(scope="session")
def engine_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineFactory]:
    """Starts further token-protected engines with extra arguments; all are stopped at the end of the session."""
    started: list[FhirEngine] = []
    log_dir: Path = tmp_path_factory.mktemp("fhir-engines")

    def start(extra_args: Sequence[str]) -> FhirEngine:
        engine = start_engine(log_dir, token=ENGINE_TOKEN, extra_args=extra_args)
        started.append(engine)
        return engine

    try:
        yield start
    finally:
        for engine in started:
            engine.stop()
