"""The Flask application factory (`create_app`, `close_app`); `service` re-exports both lazily."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from cds_hooks import (
    CardsIssued,
    EndpointOptions,
    EventBus,
    ServiceRegistry,
    client_factory,
    create_blueprint,
    install_error_handlers,
)
from service.cards import rules_note
from service.config import Settings, fhir_client_settings, load_settings
from service.facts.dates import clinical_zone, zoned_clock
from service.feedback import card_recorder, feedback_sink
from service.hooks import service_definitions
from service.knowledge import load_knowledge
from service.knowledge.export.web import install_knowledge, with_knowledge_link
from service.ops import DrainState, Operations, install_operations
from service.pages import ServiceFacts, install_pages
from service.security import build_authenticator, fhir_allow_list, serving_port
from service.store.card_writer import CardWriter
from service.store.file_guard import without_creating
from service.store.resilience import open_resilient_store
from service.version import package_version
from service.workup.app import install_workup, linked_definitions, load_workup_settings

log = logging.getLogger(__name__)
STORE_KEY = "fasciculation_cds.store"
CLOSERS_KEY = "fasciculation_cds.closers"
CARD_WRITER_KEY = "fasciculation_cds.card_writer"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fhir_client_factory(settings: Settings) -> Any:
    return client_factory(fhir_allow_list(settings), fhir_client_settings(settings), own_port=serving_port)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory: settings from the environment plus ``config`` overrides (``clock``, ``drain`` ...)."""
    overrides = dict(config or {})
    clock: Callable[[], datetime] = overrides.pop("clock", _utc_now)
    drain: DrainState = overrides.pop("drain", None) or DrainState()
    file_identity = overrides.pop("database_file_identity", None)  # set by serve's master (service.server)
    workup = load_workup_settings(overrides=overrides)  # pops the workup_* keys
    settings = load_settings(overrides=overrides)
    clock = zoned_clock(clock, clinical_zone(settings.timezone))  # an unknown zone refuses start-up
    if file_identity is not None:  # serve's master made the SQLite file: a worker never creates one
        settings = replace(settings, database_url=without_creating(settings.database_url))
    knowledge = load_knowledge()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["fasciculation_cds.settings"] = settings
    definitions = with_knowledge_link(service_definitions(knowledge, clock), knowledge, settings.public_url)
    registry = ServiceRegistry(linked_definitions(definitions, settings, workup))
    events = EventBus()
    # Wall-clock time: issued/received instants and jti expiry are not clinical "now".
    store = open_resilient_store(settings, events.publish, file_identity=file_identity)
    app.extensions[STORE_KEY] = store
    card_writer = CardWriter(store.record_cards, settings.card_queue_max)  # issued cards off the request path
    app.extensions[CARD_WRITER_KEY] = card_writer
    # close_app() runs them in reverse: the queued cards are written before the store closes.
    app.extensions[CLOSERS_KEY] = [store.close, card_writer.close]
    record_cards = card_recorder(card_writer, settings.patient_hash_key)
    events.subscribe(CardsIssued, lambda issued: record_cards(issued.definition, issued.request, issued.response))
    fhir_clients = _fhir_client_factory(settings)
    options = EndpointOptions(
        client_factory=fhir_clients,
        authenticator=build_authenticator(settings, store),  # jti replay cache in the database: all workers share it
        discovery_requires_auth=settings.discovery_requires_auth,
        public_url=settings.public_url,
        accepted_audiences=settings.audience_bases,
        cors_origins=tuple(o.strip() for o in settings.cors_origins.split(",") if o.strip()),
        feedback_sink=feedback_sink(store, card_writer),
        events=events,
        response_note=rules_note,
    )
    app.register_blueprint(create_blueprint(registry, options))
    install_workup(
        app,
        settings=settings,
        workup=workup,
        knowledge=knowledge,
        clock=clock,
        store=store,
        client_factory=fhir_clients,
    )
    install_knowledge(app, knowledge)
    install_pages(app, ServiceFacts("fasciculation-cds", package_version(), knowledge.version, registry))
    install_error_handlers(app)
    install_operations(app, Operations(knowledge.version, store, events, drain))
    return app


def close_app(app: Flask) -> None:
    """Release what ``create_app`` opened (the store's connections and threads); a second call does nothing."""
    for close in reversed(app.extensions.pop(CLOSERS_KEY, [])):
        close()
