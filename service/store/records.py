"""What goes into and comes out of the store, as frozen dataclasses (no rows or dicts past this edge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OfferedReason:
    """An override reason a card offered (kept so reports can show its display text)."""

    code: str
    system: str
    display: str | None = None


@dataclass(frozen=True)
class IssuedCard:
    """One card we sent, as remembered for feedback and reports; ``patient_hash`` is an HMAC or None."""

    card_uuid: str
    service_id: str
    hook: str
    hook_instance: str
    indicator: str
    issued_at: datetime
    rule_id: str | None = None
    knowledge_version: str | None = None
    suggestion_uuids: tuple[str, ...] = ()
    override_reasons: tuple[OfferedReason, ...] = ()
    patient_hash: str | None = None


@dataclass(frozen=True)
class FeedbackSummary:
    """What happened to one feedback POST: items received, newly stored, already stored, for unknown cards."""

    received: int
    stored: int
    duplicates: int
    unknown_cards: int

    def to_json(self) -> dict[str, Any]:
        """The 200 body of the feedback endpoint."""
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "unknownCards": self.unknown_cards,
        }


@dataclass(frozen=True)
class ShownCount:
    """How many cards one rule (at one knowledge version) showed."""

    rule_id: str | None
    knowledge_version: str | None
    count: int


@dataclass(frozen=True)
class FeedbackOnCard:
    """One stored feedback item on a card we issued, with the rule and the reasons that card offered."""

    card_uuid: str
    rule_id: str | None
    outcome: str
    outcome_timestamp: datetime
    override_code: str | None
    override_system: str | None
    has_comment: bool
    offered_reasons: tuple[OfferedReason, ...]
