"""Server-side sessions of the SMART app: launch state, then the access token, in the service's own database.

A row per browser session, keyed by the SHA-256 of an opaque random id (the cookie holds the id, the table only its
hash, so a database reader cannot replay a cookie). The database is used rather than process memory because
``serve`` runs several gunicorn workers: the launch, the callback and the page may land on different ones. The table
is built by migration 4 (``service/store/migrations.py``); every operation runs through the store's guard, so a
database outage is bounded in time and surfaces as ``DatabaseUnavailable`` (the blueprint answers a 503 page).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Executable, delete, insert, select, update
from sqlalchemy.engine import Engine

from service.store.tables import workup_session as SESSIONS

SESSION_ID_BYTES = 32
T = TypeVar("T")


class Guard(Protocol):
    """Runs a database action within the store's deadline and breaker (``ResilientStore.guarded``)."""

    def __call__(self, operation: str, action: Callable[[], T]) -> T: ...


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Create, read, replace and end sessions; expired rows are never returned and are purged on creation."""

    def __init__(self, engine: Engine, guard: Guard, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._engine, self._guard, self._ttl_s, self._clock = engine, guard, ttl_s, clock

    def create(self, data: dict[str, Any]) -> str:
        """A new session holding ``data`` (expired rows purged); returns its opaque id (for the cookie only)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        now = self._clock()
        values = {"id_hash": _hash(session_id), "data": json.dumps(data), "expires_at": now + self._ttl_s}
        self._write(
            "workup_session_create",
            delete(SESSIONS).where(SESSIONS.c.expires_at < now),
            insert(SESSIONS).values(**values),
        )
        return session_id

    def load(self, session_id: str | None) -> dict[str, Any] | None:
        """The session's data, or None when unknown or expired."""
        if not session_id:
            return None
        query = select(SESSIONS.c.data).where(SESSIONS.c.id_hash == _hash(session_id))
        query = query.where(SESSIONS.c.expires_at >= self._clock())

        def read() -> str | None:
            with self._engine.connect() as connection:
                return connection.execute(query).scalar()

        found = self._guard("workup_session_load", read)
        if found is None:
            return None
        data: dict[str, Any] = json.loads(found)
        return data

    def replace(self, session_id: str, data: dict[str, Any]) -> None:
        """Store new data under the same id."""
        statement = update(SESSIONS).where(SESSIONS.c.id_hash == _hash(session_id)).values(data=json.dumps(data))
        self._write("workup_session_replace", statement)

    def end(self, session_id: str) -> None:
        """Forget the session (its token included)."""
        self._write("workup_session_end", delete(SESSIONS).where(SESSIONS.c.id_hash == _hash(session_id)))

    def _write(self, operation: str, *statements: Executable) -> None:
        """Run ``statements`` in one transaction through the store's guard."""

        def write() -> None:
            with self._engine.begin() as connection:
                for statement in statements:
                    connection.execute(statement)

        self._guard(operation, write)
