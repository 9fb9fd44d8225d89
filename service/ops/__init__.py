"""Operations beside the app: health and readiness probes, Prometheus metrics, draining, database outages as 503."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import Flask, Response
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks import json_response
from cds_hooks.events import EventBus
from service.ops.drain import DrainState
from service.ops.health import ReadinessSources, health_blueprint
from service.ops.metrics import Metrics, metrics_blueprint, subscribe_metrics
from service.store.resilience import ResilientStore, describe


@dataclass(frozen=True)
class Operations:
    """What the operations endpoints observe."""

    knowledge_version: str
    store: ResilientStore
    events: EventBus
    drain: DrainState


def install_operations(app: Flask, ops: Operations) -> None:
    """Mount /healthz, /readyz and /metrics, subscribe the metrics, answer database outages with 503."""
    metrics = Metrics()
    subscribe_metrics(metrics, ops.events, lambda: ops.store.health.degraded)
    app.register_blueprint(health_blueprint(ReadinessSources(ops.knowledge_version, ops.store, ops.drain)))
    app.register_blueprint(metrics_blueprint(metrics))
    retry_after = str(max(1, math.ceil(ops.store.health.retry_s)))

    @app.errorhandler(SQLAlchemyError)
    def _database_unavailable(error: SQLAlchemyError) -> Response:
        # Reached only by feedback (hook calls degrade instead); its transaction was rolled back: nothing stored.
        response = json_response(
            {
                "error": "service_unavailable",
                "message": f"the database is unavailable ({describe(error)}); retry later",
            },
            503,
        )
        response.headers["Retry-After"] = retry_after
        return response


__all__ = ["DrainState", "Operations", "install_operations"]
