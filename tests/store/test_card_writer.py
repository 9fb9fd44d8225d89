"""The card writer: issued cards off the request path, the bound on what a crash can lose, feedback still joined."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import pytest
import requests

from cds_hooks.feedback import load_feedback
from service.config import Settings
from service.store import IssuedCard, Store, card_writer, open_store
from service.store.card_writer import CardWriter
from service.store.tables import feedback, issued_cards
from tests.serving import ROOT, served
from tests.store.conftest import T0
from tests.store.test_http import count

SERVICE = "fasciculation-reversible-causes"
REQUEST = ROOT / "fixtures" / "requests" / "patient-view" / "magnesium_first.json"
QUEUE_MAX = 8
CALLS = 30


def card(n: int) -> IssuedCard:
    """An issued card numbered ``n``."""
    return IssuedCard(f"card-{n:04d}", SERVICE, "patient-view", f"hook-{n}", "warning", T0, "rule", "v1")


class BlockedRecorder:
    """Records cards once ``release`` is set; notes which thread wrote each batch."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.written: list[str] = []
        self.threads: list[str] = []

    def __call__(self, cards: Sequence[IssuedCard]) -> int:
        self.release.wait(10)
        self.written.extend(c.card_uuid for c in cards)
        self.threads.append(threading.current_thread().name)
        return len(cards)


def test_a_full_queue_makes_the_caller_write_its_own_cards() -> None:
    recorder = BlockedRecorder()
    writer = CardWriter(recorder, max_pending=4)
    writer.submit([card(0)])  # taken by the background thread, which waits on the database
    assert _eventually(lambda: writer.pending == 1 and recorder.threads == [])
    writer.submit([card(n) for n in range(1, 5)])  # 1 + 4 > 4: written by the caller, once the database answers
    writer.submit([card(5), card(6)])  # fits after the caller's write: queued again
    recorder.release.set()
    assert writer.flush(5)
    assert sorted(recorder.written) == [card(n).card_uuid for n in range(7)]
    assert recorder.threads.count(threading.current_thread().name) == 1
    writer.close()


def test_close_writes_out_the_queue_and_later_cards_synchronously() -> None:
    recorder = BlockedRecorder()
    writer = CardWriter(recorder, max_pending=100)
    writer.submit([card(n) for n in range(10)])
    closing = threading.Thread(target=writer.close)
    closing.start()
    recorder.release.set()
    closing.join(5)
    assert len(recorder.written) == 10 and writer.pending == 0
    writer.submit([card(10)])
    assert recorder.written[-1] == card(10).card_uuid


def test_feedback_before_its_card_is_written_is_stored_and_becomes_known(store: Store) -> None:
    summary = store.record_feedback(SERVICE, load_feedback(_overridden(card(0).card_uuid)))
    assert (summary.stored, summary.unknown_cards) == (1, 1)
    store.record_cards([card(0)])
    with store.engine.connect() as connection:
        assert connection.scalar(feedback.select().with_only_columns(feedback.c.card_known)) is True


def test_cards_being_written_count_against_the_bound() -> None:
    """A batch in its transaction is lost with the queue on SIGKILL, so it counts toward ``max_pending`` too."""
    release, writing, written = threading.Event(), threading.Event(), []

    def record(cards: Sequence[IssuedCard]) -> int:
        if threading.current_thread().name == "card-writer":
            writing.set()
            release.wait(5)
        written.append(len(cards))
        return len(cards)

    writer = CardWriter(record, max_pending=4)
    writer.submit([card(n) for n in range(4)])
    assert writing.wait(5) and writer.pending == 4  # all four in the thread's transaction
    writer.submit([card(4)])  # queued, a kill now would lose five: the call writes it itself
    assert written == [1] and writer.pending == 4
    release.set()
    assert writer.flush(5) and sorted(written) == [1, 4]
    writer.close()


def test_sigkill_loses_at_most_the_queue_and_feedback_right_after_a_call_is_known(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'cds.sqlite3'}"
    settings = {"CDS_CARD_QUEUE_MAX": str(QUEUE_MAX)}
    with served(database_url, tmp_path, workers=1, settings=settings) as base:
        first = _call(base)
        answer = requests.post(f"{base}/cds-services/{SERVICE}/feedback", json=_overridden(first[0]), timeout=10)
        assert answer.status_code == 200 and answer.json()["unknownCards"] == 0
        issued = first + [uuid for _ in range(CALLS) for uuid in _call(base)]
        os.kill(_worker_pid(base), signal.SIGKILL)
        store = open_store(Settings(database_url=database_url))
        try:
            stored = count(store, issued_cards)
        finally:
            store.close()
    assert len(issued) > QUEUE_MAX and len(set(issued)) == len(issued)
    assert len(issued) - QUEUE_MAX <= stored <= len(issued)


def _call(base: str) -> list[str]:
    """One hook call with a new hookInstance; the uuids of its cards."""
    body = orjson.loads(REQUEST.read_bytes())
    body["hookInstance"] = str(uuid.uuid4())
    answer = requests.post(f"{base}/cds-services/{SERVICE}", json=body, timeout=10)
    answer.raise_for_status()
    return [c["uuid"] for c in answer.json()["cards"]]


def _overridden(card_uuid: str) -> dict[str, object]:
    reason = {"reason": {"code": "not-relevant", "system": "http://example.org/o"}}
    item = {"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": "2025-03-01T12:00:00Z"}
    return {"feedback": [{**item, "overrideReason": reason}]}


def _worker_pid(base: str) -> int:
    """The gunicorn worker serving ``base``: the process started with its port whose parent was too."""
    marker = f"--port\0{base.rsplit(':', 1)[1]}\0".encode()
    ours = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)}
    workers = [pid for pid in ours if _parent(pid) in ours]
    assert len(workers) == 1, workers
    return workers[0]


def _cmdline_has(proc: Path, marker: bytes) -> bool:
    try:
        return marker in (proc / "cmdline").read_bytes() + b"\0"
    except OSError:
        return False


def _parent(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1])


def _eventually(condition: object, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.01)
    return False


class CountingCondition:
    """A ``threading.Condition`` stand-in that counts the ``notify_all`` calls made by the thread that built it.

    Those are the wake-ups a hook call pays for; the writer thread's own notifications (to flush waiters) are not.
    """

    def __init__(self) -> None:
        self.inner = threading.Condition()
        self.notified = 0
        self.caller = threading.current_thread()

    def __enter__(self) -> bool:
        return self.inner.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)

    def notify_all(self) -> None:
        if threading.current_thread() is self.caller:
            self.notified += 1
        self.inner.notify_all()

    def wait_for(self, predicate: Callable[[], object], timeout: float | None = None) -> object:
        return self.inner.wait_for(predicate, timeout)


def test_calls_within_one_linger_wake_the_writer_once_and_share_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    # A long linger keeps the first card queued through all 20 calls however slow the machine; flush cuts it short.
    monkeypatch.setattr(card_writer, "LINGER_S", 30.0)
    batches: list[int] = []
    writer = CardWriter(lambda cards: batches.append(len(cards)) or len(cards))
    condition = CountingCondition()
    writer._changed = condition  # type: ignore[assignment]
    writer.submit([card(0)])
    assert condition.notified == 1  # the first card wakes the waiting thread
    for n in range(1, 20):
        writer.submit([card(n)])
    assert condition.notified == 1  # no wake-up per call while the thread lingers
    assert writer.flush(5)
    assert batches == [20]
    writer.close()
