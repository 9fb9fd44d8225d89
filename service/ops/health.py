"""``GET /healthz`` (liveness: the process answers) and ``GET /readyz`` (ready to take traffic), both JSON.

Ready means: the knowledge base is loaded, the database answers a write (a rolled-back probe, so a read-only
database is caught), and the instance is not draining after SIGTERM. Neither endpoint needs authentication or
touches patient data, and neither is logged (load balancers call them every few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response

from cds_hooks import json_response
from service.ops.drain import DrainState
from service.store.resilience import ResilientStore


@dataclass(frozen=True)
class ReadinessSources:
    """What readiness is judged from."""

    knowledge_version: str
    store: ResilientStore
    drain: DrainState


def readiness(sources: ReadinessSources) -> tuple[bool, dict[str, str]]:
    """Whether the instance is ready, and each check's state ("ok" or why not)."""
    checks = {"knowledge": "ok" if sources.knowledge_version else "not loaded"}
    if sources.drain.draining:
        checks["draining"] = "draining after SIGTERM"
        checks["database"] = "not checked while draining"
    else:
        checks["draining"] = "ok"
        problem = sources.store.writable()
        checks["database"] = "ok" if problem is None else f"not writable: {problem}"
    return all(state == "ok" for state in checks.values()), checks


def health_blueprint(sources: ReadinessSources) -> Blueprint:
    """The two probe endpoints."""
    blueprint = Blueprint("ops_health", __name__)

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return json_response({"status": "ok"})

    @blueprint.get("/readyz")
    def readyz() -> Response:
        ready, checks = readiness(sources)
        return json_response({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)

    return blueprint
