"""FHIR date, dateTime and instant values as timezone-aware datetimes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def clinical_zone(name: str) -> ZoneInfo:
    """The IANA time zone whose calendar days "today" and "yesterday" count (CDS_TIMEZONE); ValueError if unknown."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"CDS_TIMEZONE {name!r} is not an IANA time zone (e.g. UTC, Europe/Paris)") from exc


def zoned_clock(clock: Callable[[], dt.datetime], zone: ZoneInfo) -> Callable[[], dt.datetime]:
    """The clock read in ``zone``: the screen's "now" carries the zone its calendar days are counted in."""
    return lambda: clock().astimezone(zone)


def parse_instant(value: Any) -> dt.datetime | None:
    """A timezone-aware datetime from a FHIR date/dateTime/instant (partial dates start at their first moment)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if not isinstance(value, str) or len(value) < 4:
        return None
    text = value.strip()
    try:
        if len(text) == 4:
            return dt.datetime(int(text), 1, 1, tzinfo=dt.UTC)
        if len(text) == 7:
            return dt.datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
