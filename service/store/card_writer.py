"""Issued cards written off the request path: a bounded queue drained in batches by one background thread.

A hook call hands its cards to ``CardWriter.submit`` and answers at once; the writer's thread stores whatever has
queued up in one transaction (so under load one commit serves many calls) through the resilient store (its deadline,
breaker and degraded counting are unchanged).

**Loss window.** The cards still queued or being written when a worker dies without running Python's exit path
(SIGKILL, OOM kill, power loss) are lost: never more than ``max_pending`` cards together (``CDS_CARD_QUEUE_MAX``,
default 1,000: when a call's cards would go over, it writes them itself before answering), and while the database
keeps up only those of the calls answered during the last ``LINGER_S`` plus one write (50 ms: the thread lets cards
gather that long, then writes them in one transaction). A graceful stop (SIGTERM, the drain, the end of the CLI)
loses nothing: ``close`` writes the queue out (gunicorn's ``worker_exit`` hook, and ``atexit``).

Feedback for a card still queued is stored all the same (flagged unknown); this worker's queue is written before
its feedback is stored, and writing a card marks earlier feedback on it known (``Store.record_cards``).
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Sequence

from service.store.records import IssuedCard

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 1000
BATCH_MAX = 500  # cards per transaction
LINGER_S = 0.05  # after the first card, how long the thread lets more gather before it writes
IDLE_EXIT_S = 30.0  # the thread ends after this long without cards (a new one starts with the next card)
CLOSE_TIMEOUT_S = 10.0

RecordCards = Callable[[Sequence[IssuedCard]], int]
_LIVE: weakref.WeakSet[CardWriter] = weakref.WeakSet()


class CardWriter:
    """Queue issued cards (at most ``max_pending``, queued and being written) and store them in batches."""

    def __init__(self, record: RecordCards, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._record = record
        self._max_pending = max(1, max_pending)
        self._pending: list[IssuedCard] = []
        self._writing = 0
        self._closed = False
        self._hurry = False  # a flush is waiting: write without lingering
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        _LIVE.add(self)

    @property
    def pending(self) -> int:
        """Cards queued or being written right now."""
        with self._changed:
            return len(self._pending) + self._writing

    def submit(self, cards: Sequence[IssuedCard]) -> None:
        """Queue the cards; when that would go over ``max_pending`` (or the writer is closed) write them here."""
        if not cards:
            return
        with self._changed:
            # Cards the thread is writing count too: a worker killed mid-write loses them with the queue.
            queued = not self._closed and len(self._pending) + self._writing + len(cards) <= self._max_pending
            if queued:
                was_empty = not self._pending
                self._pending.extend(cards)
                self._start_thread()
                # Wake the thread only when it waits for a first card or a batch is full: while it lingers it will
                # take these anyway, and a wake-up per call costs a thread switch on the request path.
                if was_empty or len(self._pending) >= BATCH_MAX:
                    self._changed.notify_all()
        if not queued:
            self._write(cards)

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait until every queued card is written (True) or ``timeout_s`` passed (False)."""
        with self._changed:
            self._hurry = True
            self._changed.notify_all()
            return self._changed.wait_for(lambda: not self._pending and not self._writing, timeout_s)

    def close(self) -> None:
        """Write out the queue and stop the thread; later cards are written by the caller."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_TIMEOUT_S)
        with self._changed:
            left, self._pending = self._pending, []
        for start in range(0, len(left), BATCH_MAX):
            self._write(left[start : start + BATCH_MAX])

    def _start_thread(self) -> None:
        """Start the background thread unless it runs (called holding the lock)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="card-writer", daemon=True)
            self._thread.start()

    def _next_batch(self) -> list[IssuedCard]:
        """Wait for cards; the next batch, or [] when closed or idle for IDLE_EXIT_S (the thread then ends)."""
        with self._changed:
            self._writing = 0
            self._changed.notify_all()
            if not self._changed.wait_for(lambda: self._pending or self._closed, IDLE_EXIT_S) or not self._pending:
                self._thread = None
                return []
            self._changed.wait_for(lambda: len(self._pending) >= BATCH_MAX or self._closed or self._hurry, LINGER_S)
            self._hurry = False
            batch, self._pending = self._pending[:BATCH_MAX], self._pending[BATCH_MAX:]
            self._writing = len(batch)
            return batch

    def _run(self) -> None:
        while batch := self._next_batch():
            self._write(batch)

    def _write(self, cards: Sequence[IssuedCard]) -> None:
        try:
            self._record(cards)
        except Exception as exc:  # clinicians already have their cards; feedback on them will count as unknown
            log.error("could not record %d issued cards (%s)", len(cards), type(exc).__name__)


@atexit.register
def _close_all() -> None:
    """At interpreter exit, write out every writer's queue."""
    for writer in list(_LIVE):
        writer.close()
