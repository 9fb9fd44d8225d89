"""The app's side of CDS Hooks feedback: remember every card we issue, and keep what clinicians did with them.

Feedback for a card uuid we never issued (or issued under another service) is **stored with ``card_known`` false**
and counted in ``unknownCards`` rather than rejected: the CDS client has already acted, a 4xx would only make it
retry, and the row is evidence (a card recorded by a store that was since replaced, or a misbehaving client).
Reports leave such rows out of the per-rule figures and show their number separately.

No patient identifiers are kept: the patient reference is an HMAC-SHA256 of ``context.patientId`` under
``CDS_PATIENT_HASH_KEY`` (and nothing at all when no key is set); free-text override comments are not kept.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cds_hooks import BadRequest, Card, FeedbackItem, HookRequest, HookResponse, OverrideReason, ServiceDefinition
from cds_hooks.blueprint import CardsObserver, FeedbackSink
from service.cards import provenance
from service.store import IssuedCard, OfferedReason, Store, utc_now
from service.store.card_writer import CardWriter

log = logging.getLogger(__name__)


def patient_hash(patient_id: str, key: str | None) -> str | None:
    """HMAC-SHA256 (hex) of the patient id under ``key``; None without a key or an id."""
    if not key or not patient_id:
        return None
    return hmac.new(key.encode(), patient_id.encode(), hashlib.sha256).hexdigest()


def issued_card(
    card: Card, definition: ServiceDefinition, request: HookRequest, patient: str | None, now: datetime
) -> IssuedCard | None:
    """What we remember of one card (None for a card without a uuid: no feedback can name it)."""
    if card.uuid is None:
        return None
    tag = provenance(card)
    return IssuedCard(
        card_uuid=card.uuid,
        service_id=definition.id,
        hook=request.hook,
        hook_instance=request.hook_instance,
        indicator=card.indicator.value,
        issued_at=now,
        rule_id=tag.rule_id if tag else None,
        knowledge_version=tag.knowledge_version if tag else None,
        suggestion_uuids=tuple(s.uuid for s in card.suggestions or () if s.uuid),
        override_reasons=_offered(card.override_reasons or ()),
        patient_hash=patient,
    )


@functools.lru_cache(maxsize=64)
def _offered(reasons: tuple[OverrideReason, ...]) -> tuple[OfferedReason, ...]:
    """What we keep of a card's override reasons (cards share the same few tuples: built once per tuple)."""
    return tuple(OfferedReason(r.code, r.system, r.display) for r in reasons)


def card_recorder(
    store: Store | CardWriter, patient_hash_key: str | None, clock: Callable[[], datetime] = utc_now
) -> CardsObserver:
    """The ``CardsIssued`` subscriber: record every card of a response, or queue it with a ``CardWriter``.

    A database failure only logs (the writer logs its own).
    """
    write = store.submit if isinstance(store, CardWriter) else store.record_cards

    def record(definition: ServiceDefinition, request: HookRequest, response: HookResponse) -> None:
        patient = patient_hash(str(request.context.get("patientId") or ""), patient_hash_key)
        now = clock()
        cards = [issued_card(card, definition, request, patient, now) for card in response.cards]
        kept = [card for card in cards if card is not None]
        try:
            write(kept)
        except SQLAlchemyError as exc:  # clinicians still get their cards; feedback on them will count as unknown
            log.error(
                "could not record %d cards for hookInstance=%s (%s)",
                len(kept),
                request.hook_instance,
                type(exc).__name__,
            )

    return record


def _storable_problems(items: Sequence[FeedbackItem]) -> dict[str, list[str]]:
    """Field errors for values a database cannot hold (NUL characters, instants outside UTC's range)."""
    problems: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        texts = {
            "card": item.card,
            "overrideReason.reason.code": item.override_code,
            "overrideReason.reason.system": item.override_system,
        }
        texts.update({f"acceptedSuggestions.{n}.id": s for n, s in enumerate(item.accepted_suggestions)})
        for name, value in texts.items():
            if value is not None and "\x00" in value:
                problems[f"feedback.{index}.{name}"] = ["must not contain NUL characters"]
        try:
            item.outcome_timestamp.astimezone(UTC)
        except OverflowError:
            problems[f"feedback.{index}.outcomeTimestamp"] = ["is out of range"]
    return problems


def feedback_sink(store: Store, writer: CardWriter | None = None) -> FeedbackSink:
    """The ``feedback_sink``: check the items can be stored, store them, answer with a summary.

    This worker's queued cards are written first, so feedback right after a call finds its cards known.
    """

    def sink(service_id: str, items: Sequence[FeedbackItem]) -> dict[str, Any]:
        problems = _storable_problems(items)
        if problems:
            raise BadRequest("invalid feedback", problems)
        if writer is not None:
            writer.flush()
        return store.record_feedback(service_id, items).to_json()

    return sink
