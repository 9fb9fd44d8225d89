"""Fixtures: a database URL per backend (a temp SQLite file; a fresh PostgreSQL schema), stores, cards, feedback.

PostgreSQL is never skipped: if it does not answer, the test fails and says how to start it. Each test gets its
own schema (``search_path`` pinned to it alone), so parallel runs and reruns never see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from cds_hooks import (
    Action,
    ActionType,
    Card,
    HookRequest,
    HookResponse,
    Indicator,
    OverrideReason,
    SelectionBehavior,
    ServiceDefinition,
    Source,
    Suggestion,
)
from service.cards import CARD_EXTENSION, CardProvenance
from service.config import Settings
from service.store import Store, open_store

PG_BASE_URL = os.environ.get("CDS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
SERVICE_ID = "store-test"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock tests move by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by ``timedelta(**delta)``."""
        self.now += timedelta(**delta)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections only see a brand-new schema, dropped afterwards."""
    name = f"store_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_BASE_URL, connect_args={"connect_timeout": 5})
    try:
        try:
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{name}"'))
        except OperationalError as exc:
            pytest.fail(
                f"PostgreSQL at {PG_BASE_URL} is not reachable: {exc.orig}. Run the tests with scripts/test, or "
                "`bash scripts/ensure-postgres .venv/bin/pytest tests/store` (the store tests never skip PostgreSQL).",
                pytrace=False,
            )
        try:
            yield f"{PG_BASE_URL}?options=-csearch_path%3D{name}"
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def database(backend: str, tmp_path: Any) -> Iterator[str]:
    """A URL for an empty database of ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'not-yet' / 'created' / 'store.sqlite3'}"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database on each backend."""
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    """A hand-moved clock starting at T0."""
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    """A migrated store on each backend, closed afterwards."""
    opened = open_store(Settings(database_url=database_url), clock)
    try:
        yield opened
    finally:
        opened.close()


def _no_handler(request: HookRequest, prefetched: Any) -> dict[str, Any]:
    return {"cards": []}


DEFINITION = ServiceDefinition(SERVICE_ID, "patient-view", "Store test", "Issues cards for store tests.", _no_handler)


def hook_request(patient_id: str = "pat-secret-42", hook_instance: str | None = None) -> HookRequest:
    """A patient-view request for ``patient_id``."""
    context = {"userId": "Practitioner/1", "patientId": patient_id}
    return HookRequest("patient-view", hook_instance or str(uuid.uuid4()), context)


@dataclass
class CardSpec:
    """Just enough to build a card with our extension."""

    rule_id: str
    knowledge_version: str = "2025.1"
    card_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    suggestion_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))


def card(spec: CardSpec) -> Card:
    """A spec-valid card carrying our provenance extension, one suggestion and two override reasons."""
    order = Action(type=ActionType.CREATE, description="order", resource={"resourceType": "ServiceRequest"})
    system = "http://example.org/override"
    return Card(
        uuid=spec.card_uuid,
        summary=f"card from {spec.rule_id}",
        indicator=Indicator.WARNING,
        source=Source(label="store test"),
        selection_behavior=SelectionBehavior.AT_MOST_ONE,
        suggestions=(Suggestion(label="Order magnesium", uuid=spec.suggestion_uuid, actions=(order,)),),
        override_reasons=(
            OverrideReason(code="already-done", system=system, display="Already ordered"),
            OverrideReason(code="not-relevant", system=system, display="Not relevant"),
        ),
        extension={CARD_EXTENSION: CardProvenance(rule_id=spec.rule_id, knowledge_version=spec.knowledge_version)},
    )


def response(*specs: CardSpec) -> HookResponse:
    """A hook response holding one card per spec."""
    return HookResponse(cards=tuple(card(spec) for spec in specs))


def accepted(spec: CardSpec, at: str = "2025-03-01T12:05:00Z") -> dict[str, Any]:
    """Feedback JSON: the card's suggestion was accepted."""
    return {
        "card": spec.card_uuid,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": spec.suggestion_uuid}],
        "outcomeTimestamp": at,
    }


def overridden(
    card_uuid: str, code: str | None = "not-relevant", comment: str | None = None, at: str = "2025-03-01T12:06:00Z"
) -> dict[str, Any]:
    """Feedback JSON: the card was overridden with a reason and/or comment."""
    reason: dict[str, Any] = {}
    if code:
        reason["reason"] = {"code": code, "system": "http://example.org/override"}
    if comment:
        reason["userComment"] = comment
    item: dict[str, Any] = {"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": at}
    if reason:
        item["overrideReason"] = reason
    return item
