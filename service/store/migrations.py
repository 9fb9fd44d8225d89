"""Versioned schema migrations: numbered steps, applied in order at start-up, recorded in ``schema_version``.

Why not Alembic: it is not a dependency of the project, and three tables with a handful of steps do not need
autogeneration, branches or downgrade scripts. What Alembic would give us that matters here is kept: each step
is numbered and recorded, a database is brought forward from whatever version it is at, and steps are frozen
(they define their own tables instead of importing ``tables.py``, so later edits to the model cannot rewrite
history). Several workers may start at once: on SQLite the ``BEGIN IMMEDIATE`` of every transaction serialises
them, on PostgreSQL a transaction-level advisory lock does; both backends run DDL inside the transaction, so a
failed step leaves the database at its previous version. A database newer than this code is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)

from service.store.engine import UtcDateTime
from service.store.tables import schema_version

# pg_advisory_xact_lock key: "FASC" in ASCII, so other applications sharing the server are unlikely to collide.
MIGRATION_LOCK_KEY = 0x46415343


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release; this code must not write to it."""


@dataclass(frozen=True)
class Migration:
    """One numbered step."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def _v1_cards_and_feedback(connection: Connection) -> None:
    """Issued cards and the feedback on them."""
    meta = MetaData()
    Table(
        "issued_cards",
        meta,
        Column("card_uuid", String(128), primary_key=True),
        Column("service_id", String(128), nullable=False),
        Column("hook", String(64), nullable=False),
        Column("hook_instance", String(128), nullable=False),
        Column("rule_id", String(128)),
        Column("knowledge_version", String(64)),
        Column("indicator", String(16), nullable=False),
        Column("suggestion_uuids", Text, nullable=False),
        Column("override_reasons", Text, nullable=False),
        Column("patient_hash", String(64)),
        Column("issued_at", UtcDateTime, nullable=False),
        Index("ix_issued_cards_issued_at", "issued_at"),
        Index("ix_issued_cards_rule_id", "rule_id"),
    )
    Table(
        "feedback",
        meta,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("card_uuid", String(128), nullable=False),
        Column("service_id", String(128), nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("outcome_timestamp", UtcDateTime, nullable=False),
        Column("accepted_suggestions", Text, nullable=False),
        Column("override_code", Text),
        Column("override_system", Text),
        Column("has_comment", Boolean, nullable=False),
        Column("card_known", Boolean, nullable=False),
        Column("received_at", UtcDateTime, nullable=False),
        UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_card_outcome_time"),
    )
    meta.create_all(connection)


def _v2_seen_jti(connection: Connection) -> None:
    """Replay cache for JWT ids, shared by every worker."""
    meta = MetaData()
    Table(
        "seen_jti",
        meta,
        Column("key", String(64), primary_key=True),
        Column("issuer", Text, nullable=False),
        Column("expires_at", UtcDateTime, nullable=False),
        Index("ix_seen_jti_expires_at", "expires_at"),
    )
    meta.create_all(connection)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "issued cards and feedback", _v1_cards_and_feedback),
    Migration(2, "seen jti replay cache", _v2_seen_jti),
)
LATEST_VERSION = MIGRATIONS[-1].version


def current_version(connection: Connection) -> int:
    """The highest applied step (0 for an empty database)."""
    if not connection.dialect.has_table(connection, schema_version.name):
        return 0
    return int(connection.scalar(select(func.max(schema_version.c.version))) or 0)


def migrate(engine: Engine, now: datetime, target: int = LATEST_VERSION) -> int:
    """Bring the database to ``target`` (default: latest); returns the version it is at afterwards."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        schema_version.create(connection, checkfirst=True)
        version = current_version(connection)
        if version > LATEST_VERSION:
            raise SchemaTooNew(f"database schema is at version {version}; this release knows up to {LATEST_VERSION}")
        for step in MIGRATIONS:
            if version < step.version <= target:
                step.apply(connection)
                connection.execute(schema_version.insert().values(version=step.version, name=step.name, applied_at=now))
                version = step.version
        return version
