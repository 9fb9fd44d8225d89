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
    Float,
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
    update,
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


# Frozen with step 3: until then order-select and order-sign cards were issued under the patient-view id.
_SHARED_SERVICE_ID = "fasciculation-reversible-causes"
_PER_HOOK_SERVICE_IDS = {
    "order-select": f"{_SHARED_SERVICE_ID}-order-select",
    "order-sign": f"{_SHARED_SERVICE_ID}-order-sign",
}


def _v3_per_hook_service_ids(connection: Connection) -> None:
    """Order-hook cards (and the feedback on them) move to their hook's own service id.

    The CDS client now posts feedback on an order card to that service's id; without this step the cards issued
    before the upgrade would become "unknown" to new feedback and the old feedback would stop joining them. Only
    rows under the former shared id with an order hook move; nothing is deleted, and the step runs in the
    migration's transaction (a failure leaves the database at version 2).
    """
    meta = MetaData()
    key, service = Column("card_uuid", String(128)), Column("service_id", String(128))
    cards = Table("issued_cards", meta, key, service, Column("hook", String(64)))
    feedback = Table("feedback", meta, Column("card_uuid", String(128)), Column("service_id", String(128)))
    for hook, service_id in _PER_HOOK_SERVICE_IDS.items():
        moved = select(cards.c.card_uuid).where(cards.c.service_id == _SHARED_SERVICE_ID, cards.c.hook == hook)
        connection.execute(
            update(feedback)
            .where(feedback.c.service_id == _SHARED_SERVICE_ID, feedback.c.card_uuid.in_(moved))
            .values(service_id=service_id)
        )
        connection.execute(
            update(cards)
            .where(cards.c.service_id == _SHARED_SERVICE_ID, cards.c.hook == hook)
            .values(service_id=service_id)
        )


def _v4_workup_sessions(connection: Connection) -> None:
    """Server-side sessions of the SMART work-up app: the SHA-256 of an opaque cookie id, JSON data, expiry."""
    meta = MetaData()
    Table(
        "workup_session",
        meta,
        Column("id_hash", String(64), primary_key=True),
        Column("data", Text, nullable=False),
        Column("expires_at", Float, nullable=False, index=True),
    )
    meta.create_all(connection, checkfirst=True)  # a database of the first work-up release has the table already


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "issued cards and feedback", _v1_cards_and_feedback),
    Migration(2, "seen jti replay cache", _v2_seen_jti),
    Migration(3, "one service id per hook", _v3_per_hook_service_ids),
    Migration(4, "work-up sessions", _v4_workup_sessions),
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
