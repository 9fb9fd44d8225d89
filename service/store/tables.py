"""The current schema as SQLAlchemy Core tables (what queries use; ``migrations.py`` is what builds it).

No patient identifiers live here: ``issued_cards.patient_hash`` is at most an HMAC-SHA256 of the patient id
under a key kept outside the database, and free-text override comments are not kept, only whether there was one.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from service.store.engine import UtcDateTime

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

issued_cards = Table(
    "issued_cards",
    metadata,
    Column("card_uuid", String(128), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("hook", String(64), nullable=False),
    Column("hook_instance", String(128), nullable=False),
    Column("rule_id", String(128)),
    Column("knowledge_version", String(64)),
    Column("indicator", String(16), nullable=False),
    Column("suggestion_uuids", Text, nullable=False),  # JSON array of strings
    Column("override_reasons", Text, nullable=False),  # JSON array of the {code, system, display} offered
    Column("patient_hash", String(64)),
    Column("issued_at", UtcDateTime, nullable=False),
    Index("ix_issued_cards_issued_at", "issued_at"),
    Index("ix_issued_cards_rule_id", "rule_id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("card_uuid", String(128), nullable=False),
    Column("service_id", String(128), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", UtcDateTime, nullable=False),
    Column("accepted_suggestions", Text, nullable=False),  # JSON array of suggestion uuids
    Column("override_code", Text),
    Column("override_system", Text),
    Column("has_comment", Boolean, nullable=False),
    Column("card_known", Boolean, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_card_outcome_time"),
)

seen_jti = Table(
    "seen_jti",
    metadata,
    Column("key", String(64), primary_key=True),  # sha256 of issuer + NUL + jti: bounded, whatever the jti
    Column("issuer", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_seen_jti_expires_at", "expires_at"),
)

# The SMART work-up app's sessions: keyed by the SHA-256 of the cookie's opaque id (the cookie itself is not kept).
workup_session = Table(
    "workup_session",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)
