"""The lab grid (flowsheet): analytes by result dates, each value with its H / L / critical flag, preliminary marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.rules import text
from service.workup.series import Judgement, LabPoint, LabSeries

# A flowsheet's flags: L low, H high, C critical (beyond a knowledge threshold), P preliminary (not final).
FLAGS = {
    Judgement.LOW: ("L", "low"),
    Judgement.HIGH: ("H", "high"),
    Judgement.CRITICAL: ("C", "critical"),
    Judgement.PRELIMINARY: ("P", "preliminary, not final"),
    Judgement.UNJUDGED: ("?", "unit not understood, not judged"),
}
# Window choices of the range control: (label, days); "All" is the longest window the page serves.
RANGES = (("6 months", 183), ("1 year", 365), ("2 years", 730), ("All (10 years)", 3650))


@dataclass(frozen=True)
class GridValue:
    """One result in a cell."""

    shown: str
    flag: str
    flag_text: str
    judgement: str
    reported: str


@dataclass(frozen=True)
class GridRow:
    """One analyte: its unit and, per column date, the results of that day (oldest first)."""

    analyte_id: str
    display: str
    unit: str
    cells: tuple[tuple[GridValue, ...], ...]


@dataclass(frozen=True)
class LabGrid:
    """Result dates (newest first, so a narrow screen sees the latest) and one row per analyte."""

    dates: tuple[str, ...]
    rows: tuple[GridRow, ...]


def _value(point: LabPoint) -> GridValue:
    flag, flag_text = FLAGS.get(point.judgement, ("", "normal"))
    shown = point.canonical_text if point.canonical_text is not None else point.reported
    return GridValue(shown, flag, flag_text, point.judgement.value, point.reported)


def lab_grid(series: Sequence[LabSeries]) -> LabGrid:
    """The flowsheet of the page's series (albumin-corrected calcium as a row of its own)."""
    named = [(s.analyte.id, s.analyte.display, s.analyte.canonical_unit, s.points) for s in series]
    named += [
        ("calcium_total_corrected", "Albumin-corrected calcium", s.analyte.canonical_unit, s.corrected)
        for s in series
        if s.corrected
    ]
    dates = sorted({text.date(p.effective) for *_, points in named for p in points}, reverse=True)
    rows = []
    for analyte_id, display, unit, points in named:
        by_date: dict[str, list[GridValue]] = {}
        for point in points:
            by_date.setdefault(text.date(point.effective), []).append(_value(point))
        cells = tuple(tuple(by_date.get(day, ())) for day in dates)
        rows.append(GridRow(analyte_id, display, text.display_unit(unit), cells))
    return LabGrid(tuple(dates), tuple(rows))
