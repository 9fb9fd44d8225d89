"""Trend charts and the medication timeline as server-side SVG from pygal (no script, readable from the DOM)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import pygal
from pygal.style import Style

from service.rules import text
from service.workup.series import Judgement, LabPoint, LabSeries
from service.workup.timeline import MedicationBar

# pygal appends a legacy ``sys.meta_path`` finder for its map plugins (not used here); on Python 3.11 every import
# that reaches it raises an ImportWarning, so it is taken out again.
sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, pygal.PluginImportFixer)]

JUDGEMENT_COLOURS = {
    Judgement.NORMAL: "#2e7d32",
    Judgement.LOW: "#1565c0",
    Judgement.HIGH: "#e65100",
    Judgement.CRITICAL: "#b71c1c",
    Judgement.PRELIMINARY: "#757575",
}
CORRECTED_COLOUR = "#6a1b9a"
BAND_COLOUR = "#558b2f"
THRESHOLD_COLOUR = "#d50000"
BAR_COLOURS = {"lithium": "#4a148c", "direct": "#bf360c", "electrolyte": "#0d47a1", "thyroid": "#004d40"}
MIN_BAR_FRACTION = 0.012  # a use without a known stop (or a single dose) is drawn about a week wide on two years
NOW_COLOUR = "#424242"
NOW_MARGIN = 0.03  # of the window, drawn after "now" so that its line is not on the chart's edge
DASHED = {"dasharray": "6, 4"}
DASHED_MARKER = {"dasharray": "2, 3", "width": 2}
BAR_WIDTH = "14"
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)

EMPTY_CHART = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 40" role="img">'
    '<text x="4" y="24" font-size="14">{title}</text></svg>'
)


@dataclass(frozen=True)
class ChartSize:
    """One rendering of a chart: the page shows the one for the screen's width (CSS), so text is never scaled small.

    An SVG with a viewBox scales its text with its width; each size is drawn for a band of widths in which the
    scale stays between about 0.8 and 1.2, with fonts large enough that 0.8 of them is still 11 px or more.
    """

    name: str
    width: int
    font: int
    max_ticks: int
    lab_height: int
    max_scale: int  # at most this many value labels on the y axis


# The bands: narrow up to 559 px of screen (side panels, phones), medium up to 879 px, wide above (base.html).
CHART_SIZES = (
    ChartSize("narrow", 400, 14, 4, 260, 7),
    ChartSize("medium", 640, 15, 6, 280, 9),
    ChartSize("wide", 860, 14, 8, 280, 10),
)
TICK_STEPS_MONTHS = (1, 2, 3, 6, 12, 24, 60)
CHART_WIDTH = CHART_SIZES[-1].width  # the widest (the cohort summary draws at it too)


@dataclass(frozen=True)
class Axis:
    """The shared time axis of every chart on the page."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class LegendItem:
    """One legend entry, shown as HTML under the chart (it wraps there, and its text is never scaled down)."""

    title: str
    colour: str
    line: bool  # a line (range, threshold, now) rather than points
    dashed: bool = False


@dataclass(frozen=True)
class _Line:
    title: str
    colour: str
    values: list[Any]
    options: dict[str, Any]


def _without_script(svg: str) -> str:
    """The SVG without pygal's inline config script (always written, even with ``js=()``; the CSP blocks it)."""
    return _SCRIPT.sub("", svg)


def _date(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, dt.datetime | dt.date) else str(value)


def _month_starts(axis: Axis, step: int) -> list[dt.datetime]:
    """Every ``step``-th first of the month inside the axis (steps counted from January, so ticks read evenly)."""
    months = axis.start.year * 12 + axis.start.month  # the first of the next month
    ticks = []
    while (tick := dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=axis.start.tzinfo)) <= axis.end:
        if (months % 12) % step == 0 if step <= 12 else months % step == 0:
            ticks.append(tick)
        months += 1
    return ticks


def month_ticks(axis: Axis, max_ticks: int) -> list[dt.datetime]:
    """Month starts on the axis, the smallest even step that gives at most ``max_ticks`` of them."""
    for step in TICK_STEPS_MONTHS:
        ticks = _month_starts(axis, step)
        if len(ticks) <= max_ticks:
            return ticks
    return _month_starts(axis, TICK_STEPS_MONTHS[-1])[:max_ticks]


def _month(value: Any) -> str:
    return value.strftime("%Y-%m") if isinstance(value, dt.datetime | dt.date) else str(value)


def _instant(value: Any) -> Any:
    """pygal's x of a DateTimeLine (a UTC timestamp) as a datetime, as its own x formatter reads it."""
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if isinstance(value, int | float) else value


def _point_formatter(value_formatter: Callable[[Any], str]) -> Callable[[Any], str]:
    """A point's text: its full date (the axis shows months only) and its value."""
    return lambda point: f"{_date(_instant(point[0]))}: {value_formatter(point[1])}"


def _base_config(
    axis: Axis, colours: Sequence[str], height: int, size: ChartSize, stroke_width: str = "1.5"
) -> dict[str, Any]:
    return {
        "js": (),
        "disable_xml_declaration": True,
        "width": size.width,
        "height": height,
        "xrange": (axis.start, axis.end + (axis.end - axis.start) * NOW_MARGIN),  # room to see the "now" line
        "max_scale": size.max_scale,
        "x_labels": month_ticks(axis, size.max_ticks),
        "x_value_formatter": _month,
        "x_label_rotation": 0,
        "allow_interruptions": True,
        "show_legend": False,  # the legend is HTML under the chart (lab_legend): it wraps instead of clipping
        "truncate_legend": -1,
        "truncate_label": -1,
        "show_x_guides": False,
        "style": Style(
            colors=tuple(colours),
            background="white",
            plot_background="white",
            font_family="sans-serif",
            guide_stroke_color="#e0e0e0",
            major_guide_stroke_color="#bdbdbd",
            stroke_width=stroke_width,
            stroke_width_hover=stroke_width,
            label_font_size=size.font,
            major_label_font_size=size.font,
            legend_font_size=size.font,
            title_font_size=size.font + 2,
            value_font_size=size.font,
            tooltip_font_size=size.font,
            no_data_font_size=size.font + 2,
        ),
    }


def _dot(point: LabPoint, unit: str) -> dict[str, Any]:
    label = "preliminary, not final" if point.preliminary else point.judgement.value
    shown = f"{_date(point.effective)}: {point.canonical_text} {unit}" if point.canonical_text is not None else None
    value = {"value": (point.effective, point.canonical), "label": f"{label}; reported {point.reported}"}
    # the value as the table and the cards show it (service.facts.numbers: reported precision kept)
    return {**value, "formatter": lambda _: shown} if shown else value


def _horizontal(axis: Axis, levels: Sequence[float]) -> list[Any]:
    values: list[Any] = []
    for level in levels:
        values += [(axis.start, level), (axis.end, level), None]
    return values[:-1]


@dataclass(frozen=True)
class Marker:
    """A vertical line on a lab chart at one instant: "now", or a drug's start, stop or dose change."""

    title: str
    when: dt.datetime
    colour: str
    dashed: bool = False


def _verticals(axis: Axis, lines: Sequence[_Line], markers: Sequence[Marker]) -> list[_Line]:
    """The page's "now" and each marker as a vertical line as tall as the values drawn (two points at one instant)."""
    levels = [v["value"][1] if isinstance(v, dict) else v[1] for line in lines for v in line.values if v is not None]
    if not levels:
        return []
    low, high = min(levels), max(levels)
    high = high if high > low else low + 1
    verticals = [Marker(f"Now ({_date(axis.end)})", axis.end, NOW_COLOUR), *markers]
    return [
        _Line(
            m.title,
            m.colour,
            [(m.when, low), (m.when, high)],
            {"show_dots": False, "stroke_style": DASHED_MARKER if m.dashed else {"width": 2}},
        )
        for m in verticals
        if axis.start <= m.when <= axis.end
    ]


def _lab_lines(series: LabSeries, axis: Axis, markers: Sequence[Marker] = ()) -> list[_Line]:
    analyte, unit = series.analyte, text.display_unit(series.analyte.canonical_unit)
    lines = []
    for judgement, colour in JUDGEMENT_COLOURS.items():
        dots = [_dot(p, unit) for p in series.points if p.judgement == judgement and p.canonical is not None]
        if dots:
            lines.append(_Line(judgement.value.capitalize(), colour, dots, {"stroke": False, "dots_size": 6}))
    if series.corrected:
        dots = [_dot(p, unit) for p in series.corrected if p.canonical is not None]
        lines.append(
            _Line("Albumin-corrected calcium", CORRECTED_COLOUR, dots, {"dots_size": 3})
        )  # smaller than the total's dot: both show
    band = [b for b in (series.band.low, series.band.high) if b is not None]
    if band:
        title = "Reference range (" + ("the lab's own" if series.band_source == "lab" else "knowledge fall-back") + ")"
        lines.append(_Line(title, BAND_COLOUR, _horizontal(axis, band), {"show_dots": False, "stroke_style": DASHED}))
    thresholds = [t for t in (analyte.critical_low, analyte.critical_high, analyte.alert_high) if t is not None]
    if thresholds:
        options = {"show_dots": False, "stroke_style": DASHED}
        lines.append(_Line("Critical threshold (knowledge)", THRESHOLD_COLOUR, _horizontal(axis, thresholds), options))
    return [*lines, *_verticals(axis, lines, markers)]


def _dashed(line: _Line) -> bool:
    return line.options.get("stroke_style") in (DASHED, DASHED_MARKER)


def lab_legend(series: LabSeries, axis: Axis, markers: Sequence[Marker] = ()) -> list[LegendItem]:
    """The legend of an analyte's chart, in drawing order."""
    return [
        LegendItem(line.title, line.colour, line.options.get("show_dots") is False, _dashed(line))
        for line in _lab_lines(series, axis, markers)
    ]


def lab_chart(series: LabSeries, axis: Axis, size: ChartSize = CHART_SIZES[-1], markers: Sequence[Marker] = ()) -> str:
    """One analyte's trend in its canonical unit: points coloured by judgement, band and thresholds as lines."""
    lines = _lab_lines(series, axis, markers)
    unit = text.display_unit(series.analyte.canonical_unit)
    if not lines:  # nothing to place (a titre, no range): pygal cannot draw an empty chart; the table shows the values
        return EMPTY_CHART.format(title=escape(f"{series.analyte.display}: no value this chart can place"))
    config = _base_config(axis, [line.colour for line in lines], size.lab_height, size)
    chart = pygal.DateTimeLine(title=f"{series.analyte.display} ({unit})", y_title=unit, **config)
    decimals = series.analyte.decimals
    chart.value_formatter = lambda value: f"{text.number(value, decimals)} {unit}"
    chart.formatter = _point_formatter(chart.value_formatter)
    for line in lines:
        chart.add(line.title, line.values, **line.options)
    return _without_script(str(chart.render(is_unicode=True)))


def medication_chart(bars: Sequence[MedicationBar], axis: Axis, size: ChartSize = CHART_SIZES[-1]) -> str:
    """One horizontal bar per drug use, start to stop (or now, when ongoing), on the page's time axis."""
    names = {len(bars) - index: f"{bar.name} {bar.dose}".strip() for index, bar in enumerate(bars)}  # dose on the bar
    colours = [BAR_COLOURS.get(bar.kind, "#37474f") for bar in bars]
    config = _base_config(axis, colours, 90 + 40 * max(len(bars), 1), size, stroke_width=BAR_WIDTH)
    chart = pygal.DateTimeLine(title="Drugs that bear on the work-up", **config)
    chart.y_labels = list(names)
    chart.range = (0, len(bars) + 1)
    chart.value_formatter = lambda value: names.get(round(value), "")
    chart.formatter = _point_formatter(chart.value_formatter)
    for index, bar in enumerate(bars):
        row = len(bars) - index
        start_label = {"label": f"{bar.name}{f' {bar.dose}' if bar.dose else ''}: {bar.status_text}"}
        end = max(bar.end, bar.start + (axis.end - axis.start) * MIN_BAR_FRACTION)
        values = [{"value": (bar.start, row), **start_label}, {"value": (end, row), **start_label}]
        chart.add(f"{bar.name} ({bar.group.lower()}): {bar.status_text}", values, dots_size=1)
    return _without_script(str(chart.render(is_unicode=True)))
