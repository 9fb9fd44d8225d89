"""GET /metrics under ``serve --workers 2``: every worker's samples summed, bounded labels, no patient data."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import requests

from tests.faults.harness import feedback_items, hook_bodies, serve
from tests.faults.metrics_text import metric_total, samples


def test_metrics_add_up_across_workers(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale from an earlier run")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    bodies = hook_bodies()
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=2, env=env) as instance:
        assert not (metrics_dir / "counter_999999.db").exists()  # emptied at start
        answers = [instance.call(body) for body in bodies]
        no_prefetch = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {"patientId": "p"}}
        failed = instance.call(orjson.dumps({**no_prefetch, "context": {"userId": "Practitioner/1", "patientId": "p"}}))
        unknown = requests.post(f"{instance.base}/cds-services/no-such-service", json={}, timeout=5)
        feedback = instance.feedback(feedback_items(1))
        scrapes = [requests.get(f"{instance.base}/metrics", timeout=5) for _ in range(4)]
    assert {a.status_code for a in answers} == {200} and failed.status_code == 412 and unknown.status_code == 404
    assert feedback.status_code == 200
    text = scrapes[-1].text
    assert scrapes[-1].headers["Content-Type"].startswith("text/plain")
    assert metric_total(text, "cds_hook_calls_total", status="200") == len(bodies)
    assert metric_total(text, "cds_hook_calls_total", status="412") == 1
    assert metric_total(text, "cds_hook_calls_total", service="unknown", status="404") == 1
    assert metric_total(text, "cds_hook_call_duration_seconds_count") == len(bodies) + 2
    cards = sum(len(a.json()["cards"]) for a in answers)
    assert metric_total(text, "cds_cards_issued_total") == cards > 0
    assert metric_total(text, "cds_fhir_prefetch_total", outcome="failed") == 1
    assert metric_total(text, "cds_fhir_prefetch_total", outcome="not_needed") == len(bodies)
    assert metric_total(text, "cds_feedback_items_total", outcome="overridden") == 1
    assert metric_total(text, "cds_database_degraded") == 0
    label_names = {name for _, labels, _ in samples(text) for name in labels}
    assert label_names <= {"service", "hook", "status", "rule", "indicator", "outcome", "operation", "error", "le"}
    issued_rules = {c["extension"]["org.fasciculation-cds.card"]["ruleId"] for a in answers for c in a.json()["cards"]}
    assert {labels["rule"] for _, labels, _ in samples(text) if "rule" in labels} == issued_rules
