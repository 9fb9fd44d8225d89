"""Skipped resources, tallied per request and logged as ONE line: counts by resource type and reason.

A skip names the resource type, the elements that could not be read and the rules the resource fed - never an id,
a value or anything else about the patient. Outside a request (``skip_log`` not active) a skip is logged at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skip:
    """One resource a rule could not use: its type, the elements that could not be read, the rules it fed."""

    resource_type: str
    elements: tuple[str, ...]
    rules: tuple[str, ...]
    foreign: bool = False  # left out because it belonged to another patient (service.facts.ownership)


_SKIPS: ContextVar[Counter[Skip] | None] = ContextVar("fasciculation_cds_skips", default=None)


def note_skip(resource_type: str, elements: Iterable[str], rules: Iterable[str]) -> None:
    """Tally a skipped resource for this request's log line (logged at once outside a request)."""
    _tally(Skip(resource_type, tuple(elements), tuple(sorted(set(rules)))))


def note_foreign(resource_type: str) -> None:
    """Tally a resource left out because it belonged to another patient (no id, no reference is kept)."""
    _tally(Skip(resource_type, (), (), foreign=True))


def _tally(skip: Skip) -> None:
    tally = _SKIPS.get()
    if tally is None:
        log.warning("skipped %s", describe_skips(Counter([skip])))
    else:
        tally[skip] += 1


def _reason(skip: Skip) -> str:
    if skip.foreign:
        return "another patient's"
    return f"{','.join(skip.elements)} unreadable; rules {','.join(skip.rules) or '-'}"


def describe_skips(tally: Counter[Skip]) -> str:
    """``N resources: Type n (element unreadable; rules a,b), ...`` grouped by resource type and reason."""
    parts = [
        f"{skip.resource_type} {count} ({_reason(skip)})"
        for skip, count in sorted(
            tally.items(), key=lambda pair: (pair[0].resource_type, pair[0].foreign, pair[0].elements)
        )
    ]
    return f"{sum(tally.values())} resources: " + "; ".join(parts)


@contextmanager
def skip_log(hook_instance: str) -> Iterator[Counter[Skip]]:
    """Collect the skips of one request and log them as one WARNING line at the end (nothing when none)."""
    tally: Counter[Skip] = Counter()
    token = _SKIPS.set(tally)
    try:
        yield tally
    finally:
        _SKIPS.reset(token)
        if tally:
            log.warning("hookInstance=%s skipped %s", hook_instance, describe_skips(tally))
