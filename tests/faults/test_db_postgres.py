"""PostgreSQL killed and frozen under load: clinicians keep getting cards, feedback says 503 and comes back by itself.

A real ``serve`` (two gunicorn workers, JWT auth on, so every call goes through the jti replay check) runs on a
PostgreSQL this test starts, kills (SIGKILL), freezes (SIGSTOP) and brings back, without restarting the service.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from tests.faults.harness import FAST_DATABASE, Instance, Signer, feedback_items, hook_bodies, serve
from tests.faults.metrics_text import metric_total
from tests.faults.throwaway_postgres import ThrowawayPostgres

CONCURRENCY = 6
CALLS_PER_PHASE = 36
RECOVERY_WAIT_S = 30


def load(instance: Instance, calls: int = CALLS_PER_PHASE) -> list[requests.Response]:
    """``calls`` hook calls, ``CONCURRENCY`` at a time, each with a fresh token."""
    bodies = hook_bodies()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(lambda n: instance.call(bodies[n % len(bodies)]), range(calls)))


def assert_outage_behaviour(instance: Instance) -> None:
    """During an outage: cards still come, feedback is 503 with Retry-After, readiness says why, liveness is fine."""
    answers = load(instance)
    assert [a.status_code for a in answers] == [200] * CALLS_PER_PHASE
    assert sum(len(a.json()["cards"]) for a in answers) > 0
    refused = instance.feedback(feedback_items())
    assert refused.status_code == 503 and refused.json()["error"] == "service_unavailable"
    assert int(refused.headers["Retry-After"]) >= 1
    ready = requests.get(f"{instance.base}/readyz", timeout=15)
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("not writable")
    assert requests.get(f"{instance.base}/healthz", timeout=5).status_code == 200


def assert_replays_refused_per_worker(instance: Instance, workers: int) -> None:
    """One token sent 3 x workers times: each worker accepts it at most once, all other sends are 401."""
    jti = str(uuid.uuid4())
    body = hook_bodies()[0]
    statuses = [instance.call(body, jti=jti).status_code for _ in range(3 * workers)]
    assert set(statuses) <= {200, 401} and 1 <= statuses.count(200) <= workers, statuses


def wait_for_feedback(instance: Instance, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Post ``items`` until the database takes them again (no restart of the service); the summary."""
    deadline = time.monotonic() + RECOVERY_WAIT_S
    while True:
        answer = instance.feedback(items)
        if answer.status_code == 200:
            summary: dict[str, Any] = answer.json()
            return summary
        assert answer.status_code == 503, answer.text
        assert time.monotonic() < deadline, "feedback did not recover"
        time.sleep(0.5)


def check_recovery(instance: Instance, refused_items: list[dict[str, Any]]) -> None:
    """The items refused during the outage are stored now, once: nothing of them was half-stored before."""
    summary = wait_for_feedback(instance, refused_items)
    assert summary["stored"] == len(refused_items) and summary["duplicates"] == 0
    assert requests.get(f"{instance.base}/readyz", timeout=15).status_code == 200
    assert [a.status_code for a in load(instance, 12)] == [200] * 12


def test_postgres_killed_under_load(throwaway_postgres: ThrowawayPostgres, signer: Signer, tmp_path: Path) -> None:
    with serve(throwaway_postgres.url, tmp_path, workers=2, signer=signer, env=FAST_DATABASE) as instance:
        assert [a.status_code for a in load(instance, 12)] == [200] * 12
        assert instance.feedback(feedback_items()).status_code == 200
        throwaway_postgres.kill()
        assert_outage_behaviour(instance)
        assert_replays_refused_per_worker(instance, workers=2)
        refused_items = feedback_items(3)
        assert instance.feedback(refused_items).status_code == 503
        metrics = requests.get(f"{instance.base}/metrics", timeout=5).text
        throwaway_postgres.start()
        check_recovery(instance, refused_items)
        log = instance.log()
    assert metric_total(metrics, "cds_cards_unrecorded_total") > 0
    assert metric_total(metrics, "cds_database_errors_total") > 0
    assert metric_total(metrics, "cds_feedback_posts_total", status="503") >= 2
    assert "Traceback" not in log
    # one degraded-mode warning per worker per interval (60 s), not one per call
    assert 1 <= log.count("database unavailable (") <= 2, log.count("database unavailable (")
    assert log.count("database available again") >= 1


def test_postgres_frozen_under_load(throwaway_postgres: ThrowawayPostgres, signer: Signer, tmp_path: Path) -> None:
    with serve(throwaway_postgres.url, tmp_path, workers=2, signer=signer, env=FAST_DATABASE) as instance:
        assert [a.status_code for a in load(instance, 12)] == [200] * 12
        throwaway_postgres.freeze()
        try:
            assert_outage_behaviour(instance)  # every request has a 15 s client timeout: a hang fails the test
            assert_replays_refused_per_worker(instance, workers=2)
            refused_items = feedback_items(3)
            assert instance.feedback(refused_items).status_code == 503
        finally:
            throwaway_postgres.thaw()
        check_recovery(instance, refused_items)
        log = instance.log()
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log


def test_service_starts_while_postgres_is_down(
    throwaway_postgres: ThrowawayPostgres, signer: Signer, tmp_path: Path
) -> None:
    throwaway_postgres.kill()  # a worker (re)started during an outage must boot, not take gunicorn down with it
    with serve(throwaway_postgres.url, tmp_path, workers=1, signer=signer, env=FAST_DATABASE) as instance:
        assert requests.get(f"{instance.base}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{instance.base}/readyz", timeout=15).status_code == 503
        assert [a.status_code for a in load(instance, 6)] == [200] * 6
        refused_items = feedback_items(2)
        assert instance.feedback(refused_items).status_code == 503
        throwaway_postgres.start()
        check_recovery(instance, refused_items)  # the schema is created once the database answers
        log = instance.log()
    assert "Traceback" not in log
