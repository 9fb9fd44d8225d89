"""Degrade, don't fail, when the database is unavailable.

``ResilientStore`` is the ``Store`` the running app uses. Every write on the request path is bounded in time
(PostgreSQL operations run with a deadline in a small thread pool, because a frozen server never answers and
``statement_timeout`` is enforced by the server itself) and goes through a breaker: after a failure the database
is left alone for ``retry_s`` and operations fail at once; then it is tried again, so service comes back without
a restart. A SQLite file removed or replaced under the store counts as unavailable (``service.store.file_guard``).

While the database is unavailable:
- the JWT replay check falls back to a bounded in-process cache (every jti this worker accepted is also kept
  there, so replays to the same worker are still refused; other workers and hosts cannot be asked);
- issued cards are not recorded, only counted (``CardsRecorded.failed``);
- feedback raises ``DatabaseUnavailable`` (the app answers 503 with Retry-After; the transaction stored nothing).
One warning is logged per ``warn_interval_s`` with the counts, never a traceback, and one line when it recovers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, delete, event
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks import FeedbackItem
from cds_hooks.events import CardsRecorded, DatabaseError
from service.config import Settings
from service.store import open_store
from service.store.database import Clock, Store, replay_key, utc_now
from service.store.engine import create_store_engine
from service.store.file_guard import FileGuard, FileIdentity, VanishedFile, sqlite_file
from service.store.migrations import migrate
from service.store.records import FeedbackSummary, IssuedCard
from service.store.retention import RetentionPurger
from service.store.tables import seen_jti

log = logging.getLogger(__name__)

T = TypeVar("T")
Publish = Callable[[object], None]
REPLAY_FALLBACK_MAX_ENTRIES = 100_000
WARN_INTERVAL_S = 60.0
DEADLINE_THREADS = 4
READ_ONLY_MARKERS = ("readonly", "read-only", "read only")
_deadline_thread = threading.local()


class DatabaseUnavailable(SQLAlchemyError):
    """The database cannot be used right now (down, stuck, read-only, or left alone after a recent failure)."""


class BoundedReplayCache:
    """An in-process (issuer, jti) memory holding at most ``max_entries`` unexpired keys (oldest dropped first)."""

    def __init__(self, max_entries: int = REPLAY_FALLBACK_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._expiry: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def remember(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """True when ``key`` is new or expired (and is now kept); False for a replay."""
        with self._lock:
            known = self._expiry.get(key)
            if known is not None and known > now:
                return False
            self._expiry.pop(key, None)
            if len(self._expiry) >= self._max_entries:
                self._expiry = {k: v for k, v in self._expiry.items() if v > now}
            while len(self._expiry) >= self._max_entries:
                del self._expiry[next(iter(self._expiry))]
            self._expiry[key] = expires_at
            return True


class DatabaseHealth:
    """The breaker and the degraded-mode log: failures, their counts since the last warning, recovery."""

    def __init__(self, retry_s: float, warn_interval_s: float = WARN_INTERVAL_S) -> None:
        self.retry_s = retry_s
        self._warn_interval_s = warn_interval_s
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._next_warning = 0.0
        self._degraded_since: float | None = None
        self._unrecorded_cards = 0
        self._fallback_checks = 0
        self.last_error = ""

    @property
    def degraded(self) -> bool:
        """True between a failure and the next success."""
        return self._degraded_since is not None

    def open(self) -> bool:
        """True while the database is being left alone after a failure."""
        return time.monotonic() < self._retry_at

    def failed(self, operation: str, error: BaseException) -> None:
        """Note a failure: open the breaker, warn if the interval has passed."""
        now = time.monotonic()
        with self._lock:
            self._retry_at = now + self.retry_s
            self.last_error = describe(error)
            if self._degraded_since is None:
                self._degraded_since = now
            if now >= self._next_warning:
                self._next_warning = now + self._warn_interval_s
                log.warning(
                    "database unavailable (%s during %s): degraded mode - replay check per worker, cards not "
                    "recorded (%d since last warning), feedback answered 503 (replay checks in memory: %d)",
                    self.last_error,
                    operation,
                    self._unrecorded_cards,
                    self._fallback_checks,
                )
                self._unrecorded_cards = self._fallback_checks = 0

    def counted(self, unrecorded_cards: int = 0, fallback_checks: int = 0) -> None:
        """Add to the counts the next warning reports."""
        with self._lock:
            self._unrecorded_cards += unrecorded_cards
            self._fallback_checks += fallback_checks

    def succeeded(self) -> None:
        """Note a success: close the breaker; log the recovery once."""
        if self._degraded_since is None:
            return
        with self._lock:
            if self._degraded_since is not None:
                log.info("database available again after %.1f s", time.monotonic() - self._degraded_since)
            self._degraded_since = None
            self._retry_at = 0.0
            self._next_warning = 0.0


def describe(error: BaseException) -> str:
    """A short, data-free description: "read-only", else the exception class (of the driver's error if any)."""
    original = getattr(error, "orig", None) or error.__cause__ or error
    if isinstance(original, VanishedFile):
        return str(original)
    if getattr(original, "sqlstate", None) == "25006" or any(m in str(original).lower() for m in READ_ONLY_MARKERS):
        return "read-only"
    return type(original).__name__


def _refuse_late_commit(_connection: Connection) -> None:
    """Engine ``commit`` listener: a transaction whose caller gave up waiting is rolled back, not committed."""
    abandoned: threading.Event | None = getattr(_deadline_thread, "abandoned", None)
    if abandoned is not None and abandoned.is_set():
        raise DatabaseUnavailable("the caller gave up waiting: rolled back")


class ResilientStore(Store):
    """A ``Store`` whose request-path writes are bounded in time and degrade while the database is unavailable."""

    def __init__(
        self,
        store: Store,
        timeout_s: float,
        retry_s: float,
        publish: Publish | None = None,
        migrated: bool = True,
        file_identity: FileIdentity | None = None,
        retention_days: int = 0,
    ) -> None:
        super().__init__(store.engine, store.clock)
        self._migrated = migrated
        self.health = DatabaseHealth(retry_s)
        self.replay_fallback = BoundedReplayCache()
        self._timeout_s = timeout_s
        self._publish: Publish = publish or (lambda _event: None)
        self._pool: ThreadPoolExecutor | None = None
        path = sqlite_file(store.engine)
        self._file = None if path is None else FileGuard(path, file_identity)
        self.retention = RetentionPurger(store.engine, store.clock, retention_days)
        if store.engine.dialect.name == "postgresql":  # SQLite's own busy timeout bounds its waits
            self._pool = ThreadPoolExecutor(max_workers=DEADLINE_THREADS, thread_name_prefix="db-deadline")
            event.listen(store.engine, "commit", _refuse_late_commit)

    def guarded(self, operation: str, action: Callable[[], T]) -> T:
        """Run ``action`` within the deadline unless the breaker is open; any failure -> ``DatabaseUnavailable``."""
        if self.health.open():
            raise DatabaseUnavailable(f"database left alone after a failure ({self.health.last_error})")
        try:
            self._check_file()
            result = self._within_deadline(action if self._migrated else self._migrating(action))
            self._check_file()  # committed into the file still at the path, not into a removed one
        except (SQLAlchemyError, FutureTimeout, VanishedFile) as exc:
            self.health.failed(operation, exc)
            self._publish(DatabaseError(operation, describe(exc)))
            raise DatabaseUnavailable(f"database unavailable ({describe(exc)})") from exc
        self.health.succeeded()
        return result

    def _check_file(self) -> None:
        """Raise ``VanishedFile`` when the SQLite file was removed or replaced (its pooled connections are closed)."""
        problem = None if self._file is None else self._file.problem()
        if problem is not None:
            self.engine.dispose()
            raise VanishedFile(problem)

    def _migrating(self, action: Callable[[], T]) -> Callable[[], T]:
        """``action`` preceded by the schema migration the start-up could not run (the database was down)."""

        def run() -> T:
            migrate(self.engine, self.clock())
            self._migrated = True
            return action()

        return run

    def _within_deadline(self, action: Callable[[], T]) -> T:
        if self._pool is None:
            return action()
        abandoned = threading.Event()

        def run() -> T:
            _deadline_thread.abandoned = abandoned
            return action()

        future: Future[T] = self._pool.submit(run)
        try:
            return future.result(timeout=self._timeout_s)
        except FutureTimeout:
            abandoned.set()  # a transaction still stuck must not commit once the caller was told it failed
            future.cancel()  # never started (every deadline thread stuck): it never will
            raise

    def remember(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """The shared replay check; this worker's bounded memory when the database is unavailable."""
        key = replay_key(issuer, jti)
        try:
            fresh = self.guarded("replay_check", lambda: Store.remember(self, issuer, jti, expires_at))
        except DatabaseUnavailable:
            self.health.counted(fallback_checks=1)
            return self.replay_fallback.remember(key, expires_at, self.clock())
        if fresh:  # kept here too, so that a replay to this worker is refused during a later outage
            self.replay_fallback.remember(key, expires_at, self.clock())
        return fresh

    def record_cards(self, cards: Sequence[IssuedCard]) -> int:
        """Record the cards; while the database is unavailable they are only counted (0 recorded)."""
        if not cards:
            return 0
        per_service = Counter(card.service_id for card in cards)  # a batch of the card writer may mix services
        try:
            added = self.guarded("record_cards", lambda: Store.record_cards(self, cards))
        except DatabaseUnavailable:
            self.health.counted(unrecorded_cards=len(cards))
            for service_id, count in per_service.items():
                self._publish(CardsRecorded(service_id, 0, count))
            return 0
        for service_id, count in per_service.items():
            self._publish(CardsRecorded(service_id, count, 0))
        self.retention.maybe_run(self.guarded)  # the card writer's thread: off the request path
        return added

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> FeedbackSummary:
        """Store feedback in one transaction, or raise ``DatabaseUnavailable`` having stored nothing."""
        return self.guarded("record_feedback", lambda: Store.record_feedback(self, service_id, items))

    def writable(self) -> str | None:
        """None when the database answers a write (rolled back); else why not ("read-only", the error's type)."""
        try:
            self.guarded("readiness", self._probe_write)
        except DatabaseUnavailable:
            return self.health.last_error or "unavailable"
        return None

    def _probe_write(self) -> None:
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(delete(seen_jti).where(seen_jti.c.key == ""))
            finally:
                transaction.rollback()

    def close(self) -> None:
        """Close the pool of connections and the deadline threads (without waiting for stuck ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        super().close()


def open_resilient_store(
    settings: Settings,
    publish: Publish | None = None,
    clock: Clock = utc_now,
    file_identity: FileIdentity | None = None,
) -> ResilientStore:
    """The app's store; a database down at start-up is not fatal: the schema is brought up to date once it answers.

    ``file_identity``: the SQLite file's identity as ``serve``'s master saw it (a worker must write that file).
    """
    timeout_s, retry_s = settings.database_timeout_s, settings.database_retry_s
    days = settings.retention_days
    try:
        opened = open_store(settings, clock)
        return ResilientStore(opened, timeout_s, retry_s, publish, file_identity=file_identity, retention_days=days)
    except SQLAlchemyError as exc:
        unmigrated = Store(create_store_engine(settings.database_url, timeout_s), clock)
        store = ResilientStore(unmigrated, timeout_s, retry_s, publish, False, file_identity, days)
        store.health.failed("start-up", exc)
        return store
