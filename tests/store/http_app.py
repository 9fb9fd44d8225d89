"""A Flask app built from cds_hooks pieces with our recorder and sink, served on a real loopback socket."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from cds_hooks import (
    CardsIssued,
    EndpointOptions,
    EventBus,
    FhirClientSettings,
    HookRequest,
    HookResponse,
    Prefetched,
    ServerAllowList,
    ServiceDefinition,
    ServiceRegistry,
    client_factory,
    create_blueprint,
    install_error_handlers,
)
from service.feedback import card_recorder, feedback_sink
from service.store import Store
from tests.store.conftest import SERVICE_ID, CardSpec, response

RULES = ("low-magnesium", "low-calcium", "thyroid", "statin", "salbutamol")


def card_specs(hook_instance: str) -> list[CardSpec]:
    """The cards answered for ``hook_instance`` (uuids derived from it, so tests can name them)."""
    base = uuid.UUID(hook_instance)
    return [
        CardSpec(rule, card_uuid=str(uuid.uuid5(base, rule)), suggestion_uuid=str(uuid.uuid5(base, rule + "/s")))
        for rule in RULES
    ]


def _handler(request: HookRequest, prefetched: Prefetched) -> HookResponse:
    return response(*card_specs(request.hook_instance))


def build_app(store: Store, hash_key: str | None = "http-test-key") -> Flask:
    """One patient-view service whose cards are recorded and whose feedback is stored."""
    definition = ServiceDefinition(SERVICE_ID, "patient-view", "Store test", "Five cards per call.", _handler)
    settings = FhirClientSettings(connect_timeout_s=0.5, read_timeout_s=0.5, max_pages=1)
    events = EventBus()
    record_cards = card_recorder(store, hash_key)
    events.subscribe(CardsIssued, lambda issued: record_cards(issued.definition, issued.request, issued.response))
    options = EndpointOptions(
        client_factory=client_factory(ServerAllowList(None), settings),
        feedback_sink=feedback_sink(store),
        events=events,
    )
    app = Flask("store-test")
    app.register_blueprint(create_blueprint(ServiceRegistry([definition]), options))
    install_error_handlers(app)
    return app


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` with a threaded werkzeug server on a free loopback port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="store-test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def hook_body(hook_instance: str, patient_id: str = "pat-secret-42") -> dict[str, Any]:
    """A patient-view call."""
    return {
        "hook": "patient-view",
        "hookInstance": hook_instance,
        "context": {"userId": "Practitioner/1", "patientId": patient_id},
    }
