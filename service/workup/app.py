"""Wiring of the work-up view into the app factory and the CLI (kept here so create_app changes by a few lines)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from cds_hooks.fhir_client import ClientFactory
from service.config import Settings, fhir_client_settings
from service.knowledge import Knowledge
from service.security import fhir_allow_list
from service.store.resilience import ResilientStore
from service.workup.blueprint import WorkupDeps, create_workup_blueprint
from service.workup.config import WorkupSettings, load_workup_settings
from service.workup.launch_limit import LaunchLimiter
from service.workup.links import linked_definitions
from service.workup.sessions import SessionStore, session_sealer


def install_workup(
    app: Flask,
    *,
    settings: Settings,
    workup: WorkupSettings,
    knowledge: Knowledge,
    clock: Callable[[], datetime],
    store: ResilientStore,
    client_factory: ClientFactory,
) -> None:
    """Register the SMART app's blueprint, its sessions living in the store's database."""
    deps = WorkupDeps(
        knowledge=knowledge,
        clock=clock,
        settings=workup,
        allow_list=fhir_allow_list(settings),
        client_factory=client_factory,
        client_settings=fhir_client_settings(settings),
        sessions=SessionStore(
            store.engine, store.guarded, workup.session_ttl_s, sealer=session_sealer(workup.session_key)
        ),
        public_url=settings.public_url,
        limiter=LaunchLimiter(workup.launch_limit, workup.launch_window_s, workup.launch_table_size),
    )
    app.register_blueprint(create_workup_blueprint(deps))


__all__ = ["install_workup", "linked_definitions", "load_workup_settings"]
