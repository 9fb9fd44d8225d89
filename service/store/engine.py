"""Database engines for the store: a SQLite file (WAL, busy timeout, BEGIN IMMEDIATE) or PostgreSQL (psycopg 3).

SQLite is tuned so that several gunicorn workers can write the same file: WAL lets readers and one writer work
at once (``synchronous = NORMAL``: durable across process crashes, a power cut may lose the last commits), the
busy timeout makes a writer wait for the lock instead of failing, and every transaction starts with
``BEGIN IMMEDIATE`` so that a transaction never has to upgrade a read lock to a write lock (the one case SQLite
answers with "database is locked" without waiting).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_SWITCH_RETRY_S = 0.01
POSTGRES_POOL_SIZE = 5
POSTGRES_MAX_OVERFLOW = 10
POSTGRES_CONNECT_TIMEOUT_S = 10
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class StoreConfigError(ValueError):
    """The database URL names a backend the store does not support."""


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime kept as naive UTC on every backend (SQLite has no time zones); read back as UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware -> naive UTC; naive datetimes are refused (their zone is unknown)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store only keeps aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Naive UTC -> aware UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


def create_store_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return create_engine(
            parsed,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_MAX_OVERFLOW,
            pool_pre_ping=True,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        )
    raise StoreConfigError(f"unsupported database backend {backend!r}; use one of {', '.join(SUPPORTED_BACKENDS)}")


def _sqlite_engine(url: URL) -> Engine:
    """A SQLite engine; the parent directory of a file database is created."""
    database = url.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    if in_memory:
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(url, connect_args=connect_args)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per connection: we issue BEGIN ourselves; busy timeout before WAL (switching to WAL may wait)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        # WAL + NORMAL: no fsync per commit (only at checkpoints), still never corrupt; a power cut may lose the
        # last few commits. The default FULL fsyncs every hook call's card insert under the write lock, which
        # capped the whole server at ~400 req/s (bench/README.md).
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode = WAL``, retried: SQLite answers "locked" at once (no busy wait) when connections race."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_SWITCH_RETRY_S)


def _sqlite_on_begin(connection: Connection) -> None:
    """Take the write lock at the start of every transaction (waits up to the busy timeout)."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")
