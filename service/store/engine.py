"""Database engines for the store: a SQLite file (WAL, busy timeout, BEGIN IMMEDIATE) or PostgreSQL (psycopg 3).

SQLite is tuned so that several gunicorn workers can write the same file: WAL lets readers and one writer work
at once (``synchronous = NORMAL``: durable across process crashes, a power cut may lose the last commits), the
busy timeout makes a writer wait for the lock instead of failing, and every transaction starts with
``BEGIN IMMEDIATE`` so that a transaction never has to upgrade a read lock to a write lock (the one case SQLite
answers with "database is locked" without waiting).

Every database wait is short (``CDS_DATABASE_TIMEOUT_S``, default 5 s): SQLite's busy timeout; PostgreSQL's
connect timeout, pool checkout timeout, and per-session ``statement_timeout`` / ``lock_timeout``. A database
that is down or stuck then costs a request seconds, not a worker (``service.store.resilience`` does the rest).
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

DEFAULT_TIMEOUT_S = 5.0
WAL_SWITCH_RETRY_S = 0.01
POSTGRES_POOL_SIZE = 5
POSTGRES_MAX_OVERFLOW = 10
POSTGRES_CONNECT_TIMEOUT_S = 3
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


def create_store_engine(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``); waits bounded by ``timeout_s``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, timeout_s)
    if backend == "postgresql":
        engine = create_engine(
            parsed,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_MAX_OVERFLOW,
            pool_pre_ping=True,
            pool_timeout=timeout_s,
            connect_args={"connect_timeout": max(1, min(POSTGRES_CONNECT_TIMEOUT_S, round(timeout_s)))},
        )
        event.listen(engine, "connect", _postgres_timeouts(round(timeout_s * 1000)))
        return engine
    raise StoreConfigError(f"unsupported database backend {backend!r}; use one of {', '.join(SUPPORTED_BACKENDS)}")


def _postgres_timeouts(timeout_ms: int) -> Any:
    """A connect listener giving every new session its ``statement_timeout`` and ``lock_timeout``."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(timeout_ms)}")
                cursor.execute(f"SET lock_timeout = {int(timeout_ms)}")
        finally:
            dbapi_connection.autocommit = autocommit

    return on_connect


def _sqlite_engine(url: URL, timeout_s: float) -> Engine:
    """A SQLite engine; the parent directory of a file database is created (not for ``file:`` URIs)."""
    database = url.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory and not url.query.get("uri"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, Any] = {"timeout": timeout_s, "check_same_thread": False}
    if in_memory:
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(url, connect_args=connect_args)
    event.listen(engine, "connect", _sqlite_on_connect(round(timeout_s * 1000)))
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(busy_timeout_ms: int) -> Any:
    """Per connection: we issue BEGIN ourselves; busy timeout before WAL (switching to WAL may wait)."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            _switch_to_wal(cursor, busy_timeout_ms / 1000)
            # WAL + NORMAL: no fsync per commit (only at checkpoints), still never corrupt; a power cut may lose
            # the last few commits. The default FULL fsyncs every hook call's card insert under the write lock,
            # which capped the whole server at ~400 req/s (bench/README.md).
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    return on_connect


def _switch_to_wal(cursor: Any, timeout_s: float) -> None:
    """``PRAGMA journal_mode = WAL``, retried: SQLite answers "locked" at once (no busy wait) when connections race."""
    deadline = time.monotonic() + timeout_s
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
