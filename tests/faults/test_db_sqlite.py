"""A read-only SQLite database: readiness fails and says why, hook calls still answer, feedback is 503.

As root no file permission stops a write, so the database is opened the way a read-only file or mount behaves
for an unprivileged service: ``mode=ro`` (a SQLite URI). The schema was created beforehand by a writable run.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import requests

from service.config import Settings
from service.store import open_store
from tests.faults.harness import FAST_DATABASE, Signer, feedback_items, hook_bodies, serve
from tests.faults.metrics_text import metric_total


def test_read_only_sqlite_degrades(signer: Signer, tmp_path: Path) -> None:
    path = tmp_path / "cds.sqlite3"
    open_store(Settings(database_url=f"sqlite:///{path}")).close()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    with serve(url, tmp_path, workers=2, signer=signer, env=FAST_DATABASE) as instance:
        ready = requests.get(f"{instance.base}/readyz", timeout=10)
        calls = [instance.call(body) for body in hook_bodies()]
        jti = str(uuid.uuid4())
        replays = [instance.call(hook_bodies()[0], jti=jti).status_code for _ in range(6)]
        feedback = instance.feedback(feedback_items(1))
        metrics = requests.get(f"{instance.base}/metrics", timeout=5).text
        log = instance.log()
    assert ready.status_code == 503 and ready.json()["checks"]["database"] == "not writable: read-only"
    assert {call.status_code for call in calls} == {200}
    assert 1 <= replays.count(200) <= 2 and replays.count(401) >= 4  # at most once per worker
    assert feedback.status_code == 503 and "Retry-After" in feedback.headers
    assert metric_total(metrics, "cds_database_degraded") == 1
    assert metric_total(metrics, "cds_cards_unrecorded_total") > 0
    assert "Traceback" not in log
