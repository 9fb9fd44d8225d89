"""Metrics from events: remembered label children count per label set, and the degraded gauge follows the store."""

from __future__ import annotations

import pytest

from cds_hooks.events import CallFinished, EventBus
from service.ops.metrics import MULTIPROC_ENV, Metrics, subscribe_metrics


def test_counts_per_label_set_and_the_degraded_gauge_follows_every_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    metrics, events, state = Metrics(), EventBus(), {"degraded": False}
    subscribe_metrics(metrics, events, lambda: state["degraded"])
    seen = []
    for status, degraded in [(200, False), (200, True), (412, True), (200, False), (200, False)]:
        state["degraded"] = degraded
        events.publish(CallFinished("svc", "patient-view", status, 0.01))
        seen.append(metrics.registry.get_sample_value("cds_database_degraded"))
    assert seen == [0, 1, 1, 0, 0]
    calls = {
        status: metrics.registry.get_sample_value(
            "cds_hook_calls_total", {"service": "svc", "hook": "patient-view", "status": status}
        )
        for status in ("200", "412")
    }
    assert calls == {"200": 4, "412": 1}
