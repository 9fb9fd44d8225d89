"""Retention: issued cards and feedback older than ``CDS_RETENTION_DAYS`` are deleted, expired sessions too.

What goes, goes together, so the feedback report stays right for what is kept: a card past retention takes every
feedback item on it along (even one received later), and feedback received before the cut-off goes whatever its
card. Expired work-up sessions (they hold the EHR's token and patient id) and expired replay entries are deleted at
every purge; ``0`` days keeps cards and feedback for ever. Feedback arriving later for a purged card is stored
flagged unknown, like any feedback on a card the store does not know.

The purge runs in the service (each worker at most once per ``PURGE_INTERVAL_S``, on the card writer's thread:
off the request path) and as ``fasciculation-cds purge``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exists, or_

from service.store.database import Clock
from service.store.tables import feedback, issued_cards, seen_jti, workup_session

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 3600.0
Guard = Callable[[str, Callable[[], "PurgeCounts"]], "PurgeCounts"]


@dataclass(frozen=True)
class PurgeCounts:
    """Rows one purge deleted, per table."""

    issued_cards: int
    feedback: int
    workup_sessions: int
    replay_entries: int

    def to_json(self) -> dict[str, int]:
        """The counts keyed by what was deleted."""
        return {
            "issuedCards": self.issued_cards,
            "feedback": self.feedback,
            "workupSessions": self.workup_sessions,
            "replayEntries": self.replay_entries,
        }


def purge(engine: Engine, now: datetime, retention_days: int) -> PurgeCounts:
    """Delete, in one transaction, what is past retention at ``now`` (cards and feedback kept when days <= 0)."""
    cards = answered = 0
    with engine.begin() as connection:
        if retention_days > 0:
            cutoff = now - timedelta(days=retention_days)
            old_card = exists().where(
                issued_cards.c.card_uuid == feedback.c.card_uuid,
                issued_cards.c.service_id == feedback.c.service_id,
                issued_cards.c.issued_at < cutoff,
            )
            statement = delete(feedback).where(or_(feedback.c.received_at < cutoff, old_card))
            answered = connection.execute(statement).rowcount
            cards = connection.execute(delete(issued_cards).where(issued_cards.c.issued_at < cutoff)).rowcount
        sessions = connection.execute(delete(workup_session).where(workup_session.c.expires_at < now.timestamp()))
        replays = connection.execute(delete(seen_jti).where(seen_jti.c.expires_at <= now))
        return PurgeCounts(cards, answered, sessions.rowcount, replays.rowcount)


class RetentionPurger:
    """Runs ``purge`` at most once per interval in this process (the first call runs it)."""

    def __init__(self, engine: Engine, clock: Clock, retention_days: int, interval_s: float = PURGE_INTERVAL_S) -> None:
        self._engine, self._clock, self._days, self._interval_s = engine, clock, retention_days, interval_s
        self._lock = threading.Lock()
        self._next = 0.0

    def maybe_run(self, guard: Guard) -> PurgeCounts | None:
        """Purge through ``guard`` (the store's deadline and breaker) if the interval has passed; None otherwise."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if time.monotonic() < self._next:
                return None
            self._next = time.monotonic() + self._interval_s
            counts = guard("retention_purge", lambda: purge(self._engine, self._clock(), self._days))
        except Exception as exc:  # retried at the next interval; the store logs the outage itself
            log.warning("retention purge failed (%s)", type(exc).__name__)
            return None
        finally:
            self._lock.release()
        if any(asdict(counts).values()):
            log.info("retention purge (%d days): %s", self._days, counts.to_json())
        return counts
