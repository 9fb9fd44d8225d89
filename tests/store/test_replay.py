"""The jti replay cache shared by workers: new once, replay refused until expiry, race-safe, purged."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, text

from service.store import Store, replay_key
from service.store.tables import seen_jti
from tests.store.conftest import T0, FakeClock

ISSUER = "https://ehr.example.org"


def test_a_jti_is_new_once(store: Store) -> None:
    expires = T0 + timedelta(minutes=5)
    assert store.remember(ISSUER, "jti-1", expires) is True
    assert store.remember(ISSUER, "jti-1", expires) is False
    assert store.remember("https://other.example.org", "jti-1", expires) is True
    assert store.remember(ISSUER, "jti-2", expires) is True


def test_after_expiry_the_jti_is_new_again(store: Store, clock: FakeClock) -> None:
    assert store.remember(ISSUER, "jti-1", T0 + timedelta(minutes=5))
    clock.advance(minutes=4)
    assert store.remember(ISSUER, "jti-1", T0 + timedelta(minutes=5)) is False
    clock.advance(minutes=1)
    assert store.remember(ISSUER, "jti-1", clock.now + timedelta(minutes=5)) is True


def test_expired_entries_are_purged(store: Store, clock: FakeClock) -> None:
    for n in range(5):
        store.remember(ISSUER, f"old-{n}", T0 + timedelta(minutes=1))
    store.remember(ISSUER, "fresh", T0 + timedelta(hours=1))
    clock.advance(minutes=2)
    assert store.purge_expired_jti() == 5
    with store.engine.connect() as connection:
        assert list(connection.scalars(select(seen_jti.c.key))) == [replay_key(ISSUER, "fresh")]


def test_long_jti_values_are_bounded_by_the_key(store: Store) -> None:
    assert store.remember(ISSUER, "x" * 20_000, T0 + timedelta(minutes=5))
    assert not store.remember(ISSUER, "x" * 20_000, T0 + timedelta(minutes=5))


def test_threads_racing_with_the_same_jti_let_exactly_one_through(store: Store) -> None:
    threads_n = 16
    barrier = threading.Barrier(threads_n)
    results: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        outcome = store.remember(ISSUER, "raced", T0 + timedelta(minutes=5))
        with lock:
            results.append(outcome)

    for _round in range(3):
        results.clear()
        store.purge_expired_jti()
        with store.engine.begin() as connection:
            connection.execute(text("DELETE FROM seen_jti"))
        threads = [threading.Thread(target=attempt) for _ in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * (threads_n - 1) + [True]
