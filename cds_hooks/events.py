"""A small typed publish/subscribe seam: the toolkit says what happened, the application decides what to do with it.

The blueprint publishes ``CallFinished``, ``FhirFetchDone``, ``CardsIssued`` and ``FeedbackFinished``; the
application may publish ``CardsRecorded`` and ``DatabaseError`` on the same bus. Subscribers (metrics, audit,
card recording) run in the request's thread, in subscription order. A subscriber that raises is logged (its type
only: the message may quote request data) and skipped, so an observer can never turn a call into an error.

Events carry no patient data beyond what ``CardsIssued`` must hand over (the request and the typed response).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from cds_hooks.cards import HookResponse

log = logging.getLogger(__name__)


class FetchOutcome(StrEnum):
    """How the FHIR fall-back of one hook call ended."""

    NOT_NEEDED = "not_needed"  # everything came as prefetch
    FETCHED = "fetched"  # some keys were read from the FHIR server
    FAILED = "failed"  # the call ends in 412 (unreachable, refused, bad answer, over budget)


@dataclass(frozen=True)
class CallFinished:
    """A hook call was answered; ``service_id``/``hook`` are "unknown" until the request named a registered one."""

    service_id: str
    hook: str
    status: int
    duration_s: float


@dataclass(frozen=True)
class FhirFetchDone:
    """The prefetch step of a hook call ended (fall-back included)."""

    service_id: str
    hook: str
    outcome: FetchOutcome
    duration_s: float


@dataclass(frozen=True)
class CardsIssued:
    """A valid response is about to be sent: the ``definition``, ``request`` and typed ``response`` of the call."""

    definition: Any
    request: Any
    response: HookResponse


@dataclass(frozen=True)
class CardsRecorded:
    """The application tried to keep the cards of one call: how many were stored, how many could not be."""

    service_id: str
    recorded: int
    failed: int


@dataclass(frozen=True)
class FeedbackFinished:
    """A feedback post was answered; ``outcomes`` counts the items per outcome (empty when the body was refused)."""

    service_id: str
    status: int
    outcomes: Mapping[str, int]


@dataclass(frozen=True)
class DatabaseError:
    """A database operation failed (``operation`` names it, ``error_type`` is the exception class name)."""

    operation: str
    error_type: str


EventT = TypeVar("EventT")
Subscriber = Callable[[Any], None]


class EventBus:
    """Subscribers per event type; ``publish`` calls those registered for the event's exact type."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Subscriber]] = {}
        self._lock = threading.Lock()

    def subscribe(self, kind: type[EventT], handler: Callable[[EventT], None]) -> None:
        """Call ``handler`` with every published event of type ``kind``."""
        with self._lock:
            self._subscribers = {**self._subscribers, kind: [*self._subscribers.get(kind, []), handler]}

    def publish(self, event: object) -> None:
        """Deliver ``event``; a failing subscriber is logged and the others still run."""
        for handler in self._subscribers.get(type(event), ()):
            try:
                handler(event)
            except Exception as exc:  # an observer must never fail the call it observes
                log.error("event subscriber for %s failed (%s)", type(event).__name__, type(exc).__name__)
