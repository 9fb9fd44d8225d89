"""The app owns its store: ``create_app`` registers the store's and card writer's close, ``close_app`` runs it once."""

from __future__ import annotations

from pathlib import Path

from service import CARD_WRITER_KEY, CLOSERS_KEY, STORE_KEY, close_app
from tests.conftest import AppFactory, service_app


def test_the_factory_registers_the_store_close(app_factory: AppFactory) -> None:
    app = app_factory()
    # Run in reverse by close_app: the card writer writes its queue out before the store closes.
    assert app.extensions[CLOSERS_KEY] == [app.extensions[STORE_KEY].close, app.extensions[CARD_WRITER_KEY].close]


def test_close_app_closes_once(app_factory: AppFactory) -> None:
    app = app_factory()
    closed: list[str] = []
    app.extensions[CLOSERS_KEY].append(lambda: closed.append("extra"))
    close_app(app)
    close_app(app)  # the fixture's teardown closes it again: nothing happens
    assert closed == ["extra"] and CLOSERS_KEY not in app.extensions


def test_leaving_the_app_releases_its_connections(tmp_path: Path) -> None:
    with service_app(tmp_path) as app:
        store = app.extensions[STORE_KEY]
        assert store.schema_version() > 0
        assert store.engine.pool.checkedin() >= 1  # the connection of that query waits in the pool
    assert store.engine.pool.checkedin() == 0
