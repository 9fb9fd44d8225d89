"""Retention on SQLite and PostgreSQL: cards and feedback past ``CDS_RETENTION_DAYS`` go together, the rest stays.

Before: nothing ever deleted ``issued_cards`` or ``feedback`` (no setting, no purge).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from service.config import Settings
from service.report import build_report
from service.store import IssuedCard, Store, open_store
from service.store.resilience import ResilientStore
from service.store.retention import purge
from service.store.tables import feedback, issued_cards, seen_jti, workup_session
from tests.conftest import ROOT
from tests.store.conftest import CardSpec, FakeClock, overridden
from tests.store.test_report import issue, post

DAYS = 30


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def _sessions_and_replays(store: Store, now: datetime) -> None:
    """One expired and one live work-up session and replay entry."""
    with store.engine.begin() as connection:
        for key, offset in (("expired", -60), ("live", 3600)):
            at = now + timedelta(seconds=offset)
            connection.execute(insert(workup_session).values(id_hash=key, data="{}", expires_at=at.timestamp()))
            connection.execute(insert(seen_jti).values(key=key, issuer="iss", expires_at=at))


def test_purge_deletes_what_is_past_retention_and_the_report_matches_what_is_kept(
    store: Store, clock: FakeClock
) -> None:
    old, late_feedback_on_old = CardSpec("low-magnesium"), CardSpec("low-magnesium")
    issue(store, clock, old, late_feedback_on_old)
    post(store, overridden(old.card_uuid, at="2025-03-01T12:06:00Z"))
    clock.advance(days=DAYS + 5)
    recent = CardSpec("low-magnesium")
    issue(store, clock, recent)
    post(store, overridden(late_feedback_on_old.card_uuid, at="2025-04-05T12:00:00Z"))  # feedback late, card old
    post(store, overridden(recent.card_uuid, at="2025-04-05T12:01:00Z"))
    _sessions_and_replays(store, clock.now)
    counts = purge(store.engine, clock.now, DAYS)
    assert counts.to_json() == {"issuedCards": 2, "feedback": 2, "workupSessions": 1, "replayEntries": 1}
    assert (_count(store, issued_cards), _count(store, feedback)) == (1, 1)
    report = build_report(store)
    assert [(r.rule_id, r.shown, r.overridden) for r in report.rules] == [("low-magnesium", 1, 1)]
    assert report.unknown_card_feedback == 0
    assert purge(store.engine, clock.now, DAYS).to_json() == dict.fromkeys(counts.to_json(), 0)


def test_zero_days_keeps_cards_and_feedback(store: Store, clock: FakeClock) -> None:
    spec = CardSpec("thyroid")
    issue(store, clock, spec)
    post(store, overridden(spec.card_uuid))
    clock.advance(days=3650)
    assert purge(store.engine, clock.now, 0).issued_cards == 0
    assert (_count(store, issued_cards), _count(store, feedback)) == (1, 1)


def _card(uuid: str, issued_at: datetime) -> IssuedCard:
    return IssuedCard(uuid, "svc", "patient-view", "hook-1", "warning", issued_at, "rule-1", "v1")


def test_the_service_purges_on_its_card_writer_path(database_url: str) -> None:
    """The running store purges when it records cards (at most once an hour), through its guard."""
    now = datetime.now(UTC)
    store = ResilientStore(open_store(Settings(database_url=database_url)), 5, 1, retention_days=DAYS)
    try:
        Store.record_cards(store, [_card("old", now - timedelta(days=DAYS + 1))])
        store.record_cards([_card("new", now)])
        with store.engine.connect() as connection:
            assert set(connection.scalars(select(issued_cards.c.card_uuid))) == {"new"}
        assert store.retention.maybe_run(store.guarded) is None  # not again within the interval
    finally:
        store.close()


def test_purge_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cds.sqlite3'}"
    store = open_store(Settings(database_url=url))
    try:
        store.record_cards([_card("old", datetime.now(UTC) - timedelta(days=400)), _card("new", datetime.now(UTC))])
    finally:
        store.close()
    env = {**os.environ, "CDS_DATABASE_URL": url, "CDS_RETENTION_DAYS": "365", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "purge"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert '"retentionDays":365' in done.stdout and '"issuedCards":1' in done.stdout
    assert time.monotonic() - started < 120
    store = open_store(Settings(database_url=url))
    try:
        with store.engine.connect() as connection:
            assert set(connection.scalars(select(issued_cards.c.card_uuid))) == {"new"}
    finally:
        store.close()
