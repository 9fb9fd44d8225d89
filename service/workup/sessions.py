"""Server-side sessions of the SMART app: launch state, then the access token, in the service's own database.

A row per browser session, keyed by the SHA-256 of an opaque random id (the cookie holds the id, the table only its
hash, so a database reader cannot replay a cookie). The database is used rather than process memory because
``serve`` runs several gunicorn workers: the launch, the callback and the page may land on different ones. The table
stands outside the numbered migrations (it holds only short-lived rows and can be dropped at any time).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, Text, delete, insert, select, text, update
from sqlalchemy.engine import Engine

from service.store.migrations import MIGRATION_LOCK_KEY

SESSION_ID_BYTES = 32
_METADATA = MetaData()
SESSIONS = Table(
    "workup_session",
    _METADATA,
    Column("id_hash", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)


def create_table(engine: Engine) -> None:
    """Create the table if missing; workers starting together are serialised like the migrations are."""
    with engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE (see service/store/engine.py)
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        _METADATA.create_all(connection, checkfirst=True)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Create, read, replace and end sessions; expired rows are never returned and are purged on creation."""

    def __init__(self, engine: Engine, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._engine, self._ttl_s, self._clock = engine, ttl_s, clock
        create_table(engine)

    def create(self, data: dict[str, Any]) -> str:
        """A new session holding ``data``; returns its opaque id (for the cookie only)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        now = self._clock()
        with self._engine.begin() as connection:
            connection.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < now))
            values = {"id_hash": _hash(session_id), "data": json.dumps(data), "expires_at": now + self._ttl_s}
            connection.execute(insert(SESSIONS).values(**values))
        return session_id

    def load(self, session_id: str | None) -> dict[str, Any] | None:
        """The session's data, or None when unknown or expired."""
        if not session_id:
            return None
        query = select(SESSIONS.c.data).where(SESSIONS.c.id_hash == _hash(session_id))
        with self._engine.connect() as connection:
            row = connection.execute(query.where(SESSIONS.c.expires_at >= self._clock())).first()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    def replace(self, session_id: str, data: dict[str, Any]) -> None:
        """Store new data under the same id."""
        statement = update(SESSIONS).where(SESSIONS.c.id_hash == _hash(session_id)).values(data=json.dumps(data))
        with self._engine.begin() as connection:
            connection.execute(statement)

    def end(self, session_id: str) -> None:
        """Forget the session (its token included)."""
        with self._engine.begin() as connection:
            connection.execute(delete(SESSIONS).where(SESSIONS.c.id_hash == _hash(session_id)))
