"""What every suite shares: the fixtures' clock (one ``NOW``), the real app built and closed through its factory,
a toolkit-only app, and a patient-view call body."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_hooks import (
    EndpointOptions,
    FhirClientSettings,
    ServerAllowList,
    ServiceDefinition,
    ServiceRegistry,
    client_factory,
    create_blueprint,
    install_error_handlers,
)
from tests import markers

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = ROOT / "fixtures" / "requests"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # the fixtures' clock (fixtures/README.md)
HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
TOOLKIT_MAX_BODY = 64 * 1024
ANY_SERVER = ServerAllowList(None)

AppFactory = Callable[..., Flask]
pytest_collection_modifyitems = markers.pytest_collection_modifyitems  # engine / postgres / browser / serve


@contextmanager
def service_app(directory: Path | None, **config: Any) -> Iterator[Flask]:
    """The real app at the fixtures' ``NOW`` on a SQLite file in ``directory`` (``config`` overrides); closed after."""
    from service import close_app, create_app  # here, so the toolkit suites never import the service

    settings: dict[str, Any] = {"clock": lambda: NOW, **config}
    if directory is not None:
        settings.setdefault("database_url", f"sqlite:///{directory / 'cds.sqlite3'}")
    app = create_app(settings)
    try:
        yield app
    finally:
        close_app(app)


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[AppFactory]:
    """Builds real apps (each on its own SQLite file below ``tmp_path``); every one is closed after the test."""
    numbers = itertools.count()
    with ExitStack() as apps:

        def make(**config: Any) -> Flask:
            directory = tmp_path / f"app-{next(numbers)}"
            directory.mkdir()
            return apps.enter_context(service_app(directory, **config))

        yield make


def toolkit_app(
    definition: ServiceDefinition,
    allow_list: ServerAllowList = ANY_SERVER,
    max_pages: int = 3,
    max_body: int | None = TOOLKIT_MAX_BODY,
    **options: Any,
) -> Flask:
    """A Flask app built only from cds_hooks pieces, serving ``definition`` (``options``: EndpointOptions fields)."""
    factory = client_factory(
        allow_list, FhirClientSettings(connect_timeout_s=0.5, read_timeout_s=0.5, max_pages=max_pages)
    )
    app = Flask(f"toolkit-{definition.id}")
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.register_blueprint(
        create_blueprint(ServiceRegistry([definition]), EndpointOptions(client_factory=factory, **options))
    )
    install_error_handlers(app)
    return app


def hook_body(**overrides: Any) -> dict[str, Any]:
    """A valid patient-view call body for patient ``p1``, with top-level overrides."""
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,
        "context": {"userId": "Practitioner/example", "patientId": "p1"},
    }
    body.update(overrides)
    return body
