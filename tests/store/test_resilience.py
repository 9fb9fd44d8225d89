"""Degraded mode in-process on real SQLite files: a read-only database, and one locked by another writer."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cds_hooks import CardsRecorded, DatabaseError
from service.config import Settings
from service.store import IssuedCard, open_store
from service.store.resilience import BoundedReplayCache, DatabaseUnavailable, ResilientStore
from tests.store.conftest import T0

CARD = IssuedCard("card-1", "svc", "patient-view", "hook-1", "warning", T0, "rule-1", "v1")


def test_bounded_replay_cache_refuses_replays_and_stays_bounded() -> None:
    cache = BoundedReplayCache(max_entries=3)
    later = T0 + timedelta(minutes=5)
    assert cache.remember("a", later, T0) and not cache.remember("a", later, T0)
    for key in "bcd":
        assert cache.remember(key, later, T0)
    assert len(cache) == 3 and cache.remember("a", later, T0)  # "a" was the oldest: dropped to make room
    assert cache.remember("b", later, later)  # expired entries are forgotten


def read_only_store(tmp_path: Path, events: list[object]) -> ResilientStore:
    path = tmp_path / "cds.sqlite3"
    open_store(Settings(database_url=f"sqlite:///{path}")).close()
    store = open_store(Settings(database_url=f"sqlite:///file:{path}?mode=ro&uri=true", database_timeout_s=0.2))
    return ResilientStore(store, timeout_s=0.2, retry_s=0.1, publish=events.append)


def test_read_only_database_degrades(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    events: list[object] = []
    store = read_only_store(tmp_path, events)
    expires = datetime.now(UTC) + timedelta(minutes=5)  # the store's clock is the wall clock
    try:
        assert store.writable() == "read-only"
        results = [store.remember("iss", f"jti-{n}", expires) for n in range(20)]
        assert all(results) and not store.remember("iss", "jti-3", expires)
        assert store.record_cards([CARD]) == 0
        with pytest.raises(DatabaseUnavailable):
            store.record_feedback("svc", [])
        assert store.health.degraded
    finally:
        store.close()
    assert CardsRecorded("svc", 0, 1) in events
    assert any(isinstance(event, DatabaseError) and event.error_type == "read-only" for event in events)
    assert caplog.text.count("database unavailable (read-only") == 1 and "Traceback" not in caplog.text


def test_a_locked_database_recovers_without_a_restart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "service.store.resilience")
    path = tmp_path / "cds.sqlite3"
    store = ResilientStore(
        open_store(Settings(database_url=f"sqlite:///{path}", database_timeout_s=0.1)), timeout_s=0.1, retry_s=0.1
    )
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        assert store.record_cards([CARD]) == 0 and store.writable() is not None
        blocker.execute("ROLLBACK")
        time.sleep(0.15)  # the breaker leaves the database alone for retry_s
        assert store.record_cards([CARD]) == 1 and store.writable() is None and not store.health.degraded
    finally:
        blocker.close()
        store.close()
    assert "database available again" in caplog.text
