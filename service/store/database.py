"""The store: issued cards, feedback on them, and the JWT replay cache, on SQLite or PostgreSQL.

Every write is one short transaction. Duplicates are settled by unique constraints inside the database (never by
a read-then-write in Python), so concurrent workers can post the same thing and it is still stored once.
Rows are only ever inserted (or, for expired replay entries, deleted): bad input cannot overwrite what is kept.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert

from cds_hooks import FeedbackItem
from service.store.migrations import current_version
from service.store.records import FeedbackOnCard, FeedbackSummary, IssuedCard, OfferedReason, ShownCount
from service.store.tables import feedback, issued_cards, seen_jti

Clock = Callable[[], datetime]
REPLAY_PURGE_INTERVAL_S = 60.0
IN_CLAUSE_CHUNK = 500


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _insert_ignoring_conflicts(connection: Connection, table: Any, returning: bool = True) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING <primary key>``: one row back exactly when one was added."""
    key = list(table.primary_key.columns)[0]
    if connection.dialect.name == "postgresql":
        statement: Insert = postgresql.insert(table).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing()
    return statement.returning(key) if returning else statement


def _inserted(connection: Connection, statement: Insert, values: dict[str, Any]) -> int:
    """Run an insert-ignoring-conflicts; 1 if it added a row, 0 if the row was already there."""
    return len(connection.execute(statement, values).all())


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _card_values(card: IssuedCard) -> dict[str, Any]:
    return {
        "card_uuid": card.card_uuid,
        "service_id": card.service_id,
        "hook": card.hook,
        "hook_instance": card.hook_instance,
        "rule_id": card.rule_id,
        "knowledge_version": card.knowledge_version,
        "indicator": card.indicator,
        "suggestion_uuids": _json(list(card.suggestion_uuids)),
        "override_reasons": _json([vars(reason) for reason in card.override_reasons]),
        "patient_hash": card.patient_hash,
        "issued_at": card.issued_at,
    }


def _feedback_values(service_id: str, item: FeedbackItem, known: bool, now: datetime) -> dict[str, Any]:
    return {
        "card_uuid": item.card,
        "service_id": service_id,
        "outcome": item.outcome,
        "outcome_timestamp": item.outcome_timestamp,
        "accepted_suggestions": _json(list(item.accepted_suggestions)),
        "override_code": item.override_code,
        "override_system": item.override_system,
        "has_comment": bool(item.override_comment),
        "card_known": known,
        "received_at": now,
    }


def _offered(raw: str) -> tuple[OfferedReason, ...]:
    return tuple(OfferedReason(r["code"], r["system"], r.get("display")) for r in orjson.loads(raw))


def _chunks(values: Sequence[str], size: int = IN_CLAUSE_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def replay_key(issuer: str, jti: str) -> str:
    """The replay-cache key: sha256 of issuer, NUL, jti (bounded length whatever the jti)."""
    return hashlib.sha256(issuer.encode() + b"\x00" + jti.encode()).hexdigest()


_same_card = (issued_cards.c.card_uuid == feedback.c.card_uuid) & (issued_cards.c.service_id == feedback.c.service_id)


class Store:
    """Feedback and audit persistence; also the ``ReplayCache`` the JWT authenticator uses."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and tools)."""
        return self._engine

    @property
    def clock(self) -> Clock:
        """The store's clock (wall-clock UTC in the app)."""
        return self._clock

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def schema_version(self) -> int:
        """The schema version the database is at."""
        with self._engine.connect() as connection:
            return current_version(connection)

    def record_cards(self, cards: Sequence[IssuedCard]) -> int:
        """Remember issued cards; a card uuid already known is left as first recorded. Returns how many are new."""
        if not cards:
            return 0
        with self._engine.begin() as connection:
            # One executemany without RETURNING (a third less CPU than an INSERT ... RETURNING per card, on every
            # hook call): its rowcount counts only the rows added, both dialects reporting sane multi-row counts.
            statement = _insert_ignoring_conflicts(connection, issued_cards, returning=False)
            added = int(connection.execute(statement, [_card_values(card) for card in cards]).rowcount)
            self._mark_feedback_known(connection, cards)
            return added

    @staticmethod
    def _mark_feedback_known(connection: Connection, cards: Sequence[IssuedCard]) -> None:
        """Feedback that arrived before its card was written (the card writer queues cards) now names a known card."""
        by_service: dict[str, list[str]] = {}
        for card in cards:
            by_service.setdefault(card.service_id, []).append(card.card_uuid)
        for service_id, uuids in by_service.items():
            for chunk in _chunks(uuids):
                unknown = feedback.c.card_uuid.in_(chunk) & (feedback.c.service_id == service_id)
                connection.execute(update(feedback).where(unknown, ~feedback.c.card_known).values(card_known=True))

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> FeedbackSummary:
        """Store feedback items once each (card+outcome+timestamp); unknown cards are kept, flagged and counted."""
        now = self._clock()
        stored = 0
        with self._engine.begin() as connection:
            known = self._known_cards(connection, service_id, {item.card for item in items})
            statement = _insert_ignoring_conflicts(connection, feedback)
            for item in items:
                values = _feedback_values(service_id, item, item.card in known, now)
                stored += _inserted(connection, statement, values)
        unknown = sum(1 for item in items if item.card not in known)
        return FeedbackSummary(len(items), stored, len(items) - stored, unknown)

    @staticmethod
    def _known_cards(connection: Connection, service_id: str, uuids: set[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(sorted(uuids)):
            query = select(issued_cards.c.card_uuid).where(
                issued_cards.c.service_id == service_id, issued_cards.c.card_uuid.in_(chunk)
            )
            known.update(connection.scalars(query))
        return known

    def remember(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """True when (issuer, jti) is new or its earlier entry has expired; False for a replay. Race-safe."""
        now = self._clock()
        self._maybe_purge()
        key = replay_key(issuer, jti)
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(seen_jti).where(seen_jti.c.key == key, seen_jti.c.expires_at <= now))
                connection.execute(insert(seen_jti).values(key=key, issuer=issuer, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    def purge_expired_jti(self) -> int:
        """Delete replay entries that have expired; returns how many."""
        with self._engine.begin() as connection:
            return connection.execute(delete(seen_jti).where(seen_jti.c.expires_at <= self._clock())).rowcount

    def _maybe_purge(self) -> None:
        """Purge expired replay entries at most once per interval per process."""
        if not self._purge_lock.acquire(blocking=False):
            return
        try:
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + REPLAY_PURGE_INTERVAL_S
                self.purge_expired_jti()
        finally:
            self._purge_lock.release()

    def shown_by_rule(self, since: datetime | None = None) -> list[ShownCount]:
        """Cards issued (since ``since``) per rule and knowledge version."""
        query = select(issued_cards.c.rule_id, issued_cards.c.knowledge_version, func.count()).group_by(
            issued_cards.c.rule_id, issued_cards.c.knowledge_version
        )
        if since is not None:
            query = query.where(issued_cards.c.issued_at >= since)
        with self._engine.connect() as connection:
            return [ShownCount(rule, version, int(count)) for rule, version, count in connection.execute(query)]

    def feedback_on_issued(self, since: datetime | None = None) -> list[FeedbackOnCard]:
        """Every stored feedback item on cards issued since ``since``, per card in outcome-time order."""
        query = (
            select(
                feedback.c.card_uuid,
                issued_cards.c.rule_id,
                feedback.c.outcome,
                feedback.c.outcome_timestamp,
                feedback.c.override_code,
                feedback.c.override_system,
                feedback.c.has_comment,
                issued_cards.c.override_reasons,
            )
            .join(issued_cards, _same_card)
            .order_by(feedback.c.card_uuid, feedback.c.outcome_timestamp, feedback.c.id)
        )
        if since is not None:
            query = query.where(issued_cards.c.issued_at >= since)
        with self._engine.connect() as connection:
            return [
                FeedbackOnCard(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), _offered(row[7]))
                for row in connection.execute(query)
            ]

    def unknown_card_feedback(self, since: datetime | None = None) -> int:
        """Stored feedback items (received since ``since``) naming cards we never issued."""
        query = select(func.count()).select_from(feedback).where(feedback.c.card_known.is_(False))
        if since is not None:
            query = query.where(feedback.c.received_at >= since)
        with self._engine.connect() as connection:
            return int(connection.scalar(query) or 0)
