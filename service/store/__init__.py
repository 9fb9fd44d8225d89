"""Persistence of issued cards, feedback and the JWT replay cache (SQLite by default, PostgreSQL for many hosts)."""

from __future__ import annotations

from service.config import Settings
from service.store.database import Clock, Store, replay_key, utc_now
from service.store.engine import StoreConfigError, create_store_engine
from service.store.migrations import LATEST_VERSION, MIGRATIONS, SchemaTooNew, migrate
from service.store.records import FeedbackOnCard, FeedbackSummary, IssuedCard, OfferedReason, ShownCount


def open_store(settings: Settings, clock: Clock = utc_now) -> Store:
    """Connect to ``settings.database_url``, bring its schema up to date, and return the store."""
    engine = create_store_engine(settings.database_url, settings.database_timeout_s)
    try:
        migrate(engine, clock())
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, clock)


__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "Clock",
    "FeedbackOnCard",
    "FeedbackSummary",
    "IssuedCard",
    "OfferedReason",
    "SchemaTooNew",
    "ShownCount",
    "Store",
    "StoreConfigError",
    "create_store_engine",
    "migrate",
    "open_store",
    "replay_key",
    "utc_now",
]
