"""Formatting of values, units, dates and ages for card text (presentation only, no clinical logic)."""

from __future__ import annotations

import datetime as dt

from cds_hooks.markdown import escape_markdown
from service.facts import LabResult
from service.facts.numbers import fixed

_UNIT_DISPLAY = (("[IU]", "IU"), ("meq", "mEq"), ("{Hb}", " Hb"))


def display_unit(unit: str | None) -> str:
    """A UCUM code as clinicians write it (m[IU]/L -> mIU/L, meq/L -> mEq/L)."""
    text = unit or ""
    for code, shown in _UNIT_DISPLAY:
        text = text.replace(code, shown)
    return text


def number(value: float, decimals: int | None = None) -> str:
    """A number without float noise: fixed decimals when given (service.facts.numbers), else 4 significant digits."""
    if decimals is not None:
        return fixed(value, decimals)
    return f"{value:.4g}"


def record(value: str) -> str:
    """Text taken from the record, for card Markdown: escaped so it stays text (never a link, image or HTML)."""
    return escape_markdown(value)


def quantity(value_text: str, unit: str | None, *, markdown: bool = True) -> str:
    """Value and unit, e.g. '1.2 mg/dL' (both from the record: escaped for Markdown unless plain text is asked)."""
    shown = display_unit(unit)
    plain = f"{value_text} {shown}" if shown else value_text
    return record(plain) if markdown else plain


def calendar_days(moment: dt.datetime, now: dt.datetime) -> int:
    """Calendar days from ``moment`` to ``now``, both read in the time zone ``now`` carries (CDS_TIMEZONE)."""
    return (now.date() - moment.astimezone(now.tzinfo).date()).days if now.tzinfo else (now - moment).days


def age(moment: dt.datetime, now: dt.datetime) -> str:
    """How long ago, by calendar day in the screen's zone: 'just now', 'today', 'yesterday', '4 days ago'."""
    days = calendar_days(moment, now)
    if days < 1:
        seconds = (now - moment).total_seconds()
        return "just now" if 0 <= seconds < 3600 else "today"
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


def hours_ago(moment: dt.datetime, now: dt.datetime) -> str:
    """Hours ago, for peri-operative drugs."""
    return f"{max(int((now - moment).total_seconds() // 3600), 0)} h ago"


def date(moment: dt.datetime) -> str:
    """ISO date."""
    return moment.date().isoformat()


def range_text(result: LabResult) -> str:
    """The lab's own reference range, if it sent one."""
    low, high = result.reference.low, result.reference.high
    unit = record(display_unit(result.reference_unit or result.unit))
    if low is not None and high is not None:
        return f"lab range {number(low)}–{number(high)} {unit}".rstrip()
    if low is not None:
        return f"lab lower limit {number(low)} {unit}".rstrip()
    if high is not None:
        return f"lab upper limit {number(high)} {unit}".rstrip()
    return ""


def lab_line(label: str, value_text: str, result: LabResult, now: dt.datetime, flag: str = "") -> str:
    """A Markdown bullet for one result: value, date, age, range and flag."""
    parts = [
        f"{label}: **{quantity(value_text, result.unit)}** on {date(result.effective)} ({age(result.effective, now)})"
    ]
    extra = [text for text in (range_text(result), flag) if text]
    return parts[0] + (f"; {'; '.join(extra)}" if extra else "")
