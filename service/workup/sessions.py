"""Server-side sessions of the SMART app: launch state, then the access token, in the service's own database.

A row per browser session, keyed by the SHA-256 of an opaque random id (the cookie holds the id, the table only its
hash, so a database reader cannot replay a cookie). The database is used rather than process memory because
``serve`` runs several gunicorn workers: the launch, the callback and the page may land on different ones. The table
is built by migration 4 (``service/store/migrations.py``); every operation runs through the store's guard, so a
database outage is bounded in time and surfaces as ``DatabaseUnavailable`` (the blueprint answers a 503 page).

The row's ``data`` (launch state, PKCE verifier, the EHR's access token, the patient id) is sealed with Fernet
(``cryptography``: AES-128-CBC with an HMAC-SHA256, a vetted construction rather than our own) under
``CDS_WORKUP_SESSION_KEY``, so a database reader sees neither token nor patient (issue 23 row 6). A row sealed under
another key (a rotated or start-up key) reads as no session: the user launches again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Executable, delete, insert, select, update
from sqlalchemy.engine import Engine

from service.store.tables import workup_session as SESSIONS

SESSION_ID_BYTES = 32
KEY_VARIABLE = "CDS_WORKUP_SESSION_KEY"
T = TypeVar("T")
log = logging.getLogger(__name__)


def session_sealer(keys: str | None) -> MultiFernet:
    """Fernet keys from ``CDS_WORKUP_SESSION_KEY`` (comma-separated, newest first: older ones still open old rows).

    Without one, a key made now (sessions then end with the process); ``serve`` makes one for all its workers.
    """
    listed = [k.strip() for k in (keys or "").split(",") if k.strip()]
    if not listed:
        log.info("workup: sessions sealed with a key made at start-up (set %s to keep them)", KEY_VARIABLE)
        listed = [Fernet.generate_key().decode()]
    try:
        return MultiFernet([Fernet(key) for key in listed])
    except ValueError:
        raise ValueError(f"{KEY_VARIABLE} is not valid: each key must be 32 url-safe base64-encoded bytes") from None


def prepare_session_key(environ: MutableMapping[str, str]) -> str | None:
    """Before ``serve`` starts its workers: why the configured key is unusable, else None (a key made if unset).

    The made key goes into ``environ``, so every worker of this ``serve`` seals and opens with the same one.
    """
    if not (environ.get(KEY_VARIABLE) or "").strip():
        environ[KEY_VARIABLE] = Fernet.generate_key().decode()
        return None
    try:
        session_sealer(environ[KEY_VARIABLE])
    except ValueError as exc:
        return str(exc)
    return None


class Guard(Protocol):
    """Runs a database action within the store's deadline and breaker (``ResilientStore.guarded``)."""

    def __call__(self, operation: str, action: Callable[[], T]) -> T: ...


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Create, read, replace and end sessions; expired rows are never returned and are purged on creation."""

    def __init__(
        self,
        engine: Engine,
        guard: Guard,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
        sealer: MultiFernet | None = None,
    ) -> None:
        self._engine, self._guard, self._ttl_s, self._clock = engine, guard, ttl_s, clock
        self._sealer = sealer or session_sealer(None)

    def _seal(self, data: dict[str, Any]) -> str:
        return self._sealer.encrypt(json.dumps(data).encode()).decode("ascii")

    def _open(self, sealed: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._sealer.decrypt(sealed.encode("ascii")))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            return None  # sealed under another key (or not sealed at all): no usable session
        return data

    def create(self, data: dict[str, Any]) -> str:
        """A new session holding ``data`` (expired rows purged); returns its opaque id (for the cookie only)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        now = self._clock()
        values = {"id_hash": _hash(session_id), "data": self._seal(data), "expires_at": now + self._ttl_s}
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
        return None if found is None else self._open(found)

    def replace(self, session_id: str, data: dict[str, Any]) -> None:
        """Store new data under the same id."""
        statement = update(SESSIONS).where(SESSIONS.c.id_hash == _hash(session_id)).values(data=self._seal(data))
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
