"""``GET /metrics`` in the Prometheus text format, fed by the toolkit's events.

Under ``serve`` every gunicorn worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode, the directory managed by ``service.server``) and a scrape of any worker sums them all. Without
that variable (tests, the Flask dev server) the app keeps its own registry. Labels hold only bounded, patient-free
values: service ids and hooks that are registered, HTTP statuses, rule ids, indicators, outcomes, operation names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from cds_hooks import Card
from cds_hooks.events import (
    CallFinished,
    CardsIssued,
    CardsRecorded,
    DatabaseError,
    EventBus,
    FeedbackFinished,
    FhirFetchDone,
)
from service.cards import provenance

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The service's metrics; prometheus-client is imported here, once the multiprocess directory is known."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry
        buckets = LATENCY_BUCKETS_S
        self.calls = Counter("cds_hook_calls", "Hook calls answered", ["service", "hook", "status"], registry=own)
        self.call_seconds = Histogram(
            "cds_hook_call_duration_seconds", "Hook call latency", ["service", "hook"], buckets=buckets, registry=own
        )
        self.cards = Counter("cds_cards_issued", "Cards sent", ["service", "rule", "indicator"], registry=own)
        self.unrecorded = Counter("cds_cards_unrecorded", "Cards sent but not recorded", ["service"], registry=own)
        self.fetches = Counter("cds_fhir_prefetch", "Prefetch steps by outcome", ["outcome"], registry=own)
        self.fetch_seconds = Histogram(
            "cds_fhir_prefetch_duration_seconds", "Prefetch step latency", ["outcome"], buckets=buckets, registry=own
        )
        self.db_errors = Counter("cds_database_errors", "Failed DB operations", ["operation", "error"], registry=own)
        self.degraded = Gauge(
            "cds_database_degraded", "1 while the database is unavailable", registry=own, multiprocess_mode="livemax"
        )
        self.feedback_posts = Counter("cds_feedback_posts", "Feedback posts", ["service", "status"], registry=own)
        self.feedback_items = Counter("cds_feedback_items", "Feedback items", ["service", "outcome"], registry=own)

    def exposition(self) -> bytes:
        """The current samples in the text format (every worker's, in multiprocess mode)."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def _card_rule(card: Card) -> str:
    tag = provenance(card)
    return tag.rule_id if tag else "none"


def _children(metric: Any) -> Callable[..., Any]:
    """``metric.labels`` remembered per label values (the label sets are bounded; prometheus keeps them anyway)."""
    known: dict[tuple[str, ...], Any] = {}

    def child(*values: str) -> Any:
        found = known.get(values)
        if found is None:
            found = known[values] = metric.labels(*values)
        return found

    return child


def _gauge_setter(gauge: Any) -> Callable[[int], None]:
    """Set ``gauge`` when its value changes (it is read after every call)."""
    last: int | None = None

    def set_value(value: int) -> None:
        nonlocal last
        if value != last:
            gauge.set(value)
            last = value

    return set_value


def subscribe_metrics(metrics: Metrics, events: EventBus, degraded: Callable[[], bool]) -> None:
    """Turn every event into samples; ``degraded`` is read after each call and feedback post."""
    calls, call_seconds, cards = _children(metrics.calls), _children(metrics.call_seconds), _children(metrics.cards)
    fetches, fetch_seconds = _children(metrics.fetches), _children(metrics.fetch_seconds)
    set_degraded = _gauge_setter(metrics.degraded)

    def call_finished(event: CallFinished) -> None:
        calls(event.service_id, event.hook, str(event.status)).inc()
        call_seconds(event.service_id, event.hook).observe(event.duration_s)
        set_degraded(1 if degraded() else 0)

    def cards_issued(event: CardsIssued) -> None:
        for card in event.response.cards:
            cards(event.definition.id, _card_rule(card), card.indicator.value).inc()

    def fetch_done(event: FhirFetchDone) -> None:
        fetches(event.outcome.value).inc()
        fetch_seconds(event.outcome.value).observe(event.duration_s)

    def feedback_finished(event: FeedbackFinished) -> None:
        metrics.feedback_posts.labels(event.service_id, str(event.status)).inc()
        for outcome, count in event.outcomes.items():
            metrics.feedback_items.labels(event.service_id, outcome).inc(count)
        set_degraded(1 if degraded() else 0)

    events.subscribe(CallFinished, call_finished)
    events.subscribe(CardsIssued, cards_issued)
    events.subscribe(FhirFetchDone, fetch_done)
    events.subscribe(FeedbackFinished, feedback_finished)
    events.subscribe(
        CardsRecorded, lambda e: metrics.unrecorded.labels(e.service_id).inc(e.failed) if e.failed else None
    )
    events.subscribe(DatabaseError, lambda e: metrics.db_errors.labels(e.operation, e.error_type).inc())


def metrics_blueprint(metrics: Metrics) -> Blueprint:
    """``GET /metrics``."""
    from prometheus_client import CONTENT_TYPE_LATEST

    blueprint = Blueprint("ops_metrics", __name__)

    @blueprint.get("/metrics")
    def scrape() -> Response:
        return Response(metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE_LATEST)

    return blueprint
