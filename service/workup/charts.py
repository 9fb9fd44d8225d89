"""Trend charts and the medication timeline as server-side SVG from pygal (no script, readable from the DOM)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
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
CHART_WIDTH = 860
MIN_BAR_FRACTION = 0.012  # a use without a known stop (or a single dose) is drawn about a week wide on two years
LAB_CHART_HEIGHT = 320
DASHED = {"dasharray": "6, 4"}
BAR_WIDTH = "14"
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


@dataclass(frozen=True)
class Axis:
    """The shared time axis of every chart on the page."""

    start: dt.datetime
    end: dt.datetime


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


def _base_config(axis: Axis, colours: Sequence[str], height: int, stroke_width: str = "1.5") -> dict[str, Any]:
    return {
        "js": (),
        "disable_xml_declaration": True,
        "width": CHART_WIDTH,
        "height": height,
        "xrange": (axis.start, axis.end),
        "x_value_formatter": _date,
        "x_label_rotation": 0,
        "allow_interruptions": True,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "truncate_legend": -1,
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
        ),
    }


def _dot(point: LabPoint, unit: str) -> dict[str, Any]:
    label = "preliminary, not final" if point.preliminary else point.judgement.value
    return {"value": (point.effective, point.canonical), "label": f"{label}; reported {point.reported}"}


def _horizontal(axis: Axis, levels: Sequence[float]) -> list[Any]:
    values: list[Any] = []
    for level in levels:
        values += [(axis.start, level), (axis.end, level), None]
    return values[:-1]


def _lab_lines(series: LabSeries, axis: Axis) -> list[_Line]:
    analyte, unit = series.analyte, text.display_unit(series.analyte.canonical_unit)
    lines = []
    for judgement, colour in JUDGEMENT_COLOURS.items():
        dots = [_dot(p, unit) for p in series.points if p.judgement == judgement and p.canonical is not None]
        if dots:
            lines.append(_Line(judgement.value.capitalize(), colour, dots, {"stroke": False, "dots_size": 5}))
    if series.corrected:
        dots = [_dot(p, unit) for p in series.corrected if p.canonical is not None]
        lines.append(_Line("Albumin-corrected calcium", CORRECTED_COLOUR, dots, {"dots_size": 4}))
    band = [b for b in (series.band.low, series.band.high) if b is not None]
    if band:
        title = "Reference range (" + ("the lab's own" if series.band_source == "lab" else "knowledge fall-back") + ")"
        lines.append(_Line(title, BAND_COLOUR, _horizontal(axis, band), {"show_dots": False, "stroke_style": DASHED}))
    thresholds = [t for t in (analyte.critical_low, analyte.critical_high, analyte.alert_high) if t is not None]
    if thresholds:
        options = {"show_dots": False, "stroke_style": DASHED}
        lines.append(_Line("Critical threshold (knowledge)", THRESHOLD_COLOUR, _horizontal(axis, thresholds), options))
    return lines


def lab_chart(series: LabSeries, axis: Axis) -> str:
    """One analyte's trend in its canonical unit: points coloured by judgement, band and thresholds as lines."""
    lines = _lab_lines(series, axis)
    unit = text.display_unit(series.analyte.canonical_unit)
    config = _base_config(axis, [line.colour for line in lines], LAB_CHART_HEIGHT)
    chart = pygal.DateTimeLine(title=f"{series.analyte.display} ({unit})", y_title=unit, **config)
    decimals = series.analyte.decimals
    chart.value_formatter = lambda value: f"{text.number(value, decimals)} {unit}"
    for line in lines:
        chart.add(line.title, line.values, **line.options)
    return _without_script(str(chart.render(is_unicode=True)))


def medication_chart(bars: Sequence[MedicationBar], axis: Axis) -> str:
    """One horizontal bar per drug use, start to stop (or now, when ongoing), on the page's time axis."""
    names = {len(bars) - index: bar.name for index, bar in enumerate(bars)}
    colours = [BAR_COLOURS.get(bar.kind, "#37474f") for bar in bars]
    config = _base_config(axis, colours, 90 + 40 * max(len(bars), 1), stroke_width=BAR_WIDTH)
    config["show_legend"] = False  # the rows are labelled on the axis and listed in the table under the chart
    chart = pygal.DateTimeLine(title="Drugs that bear on the work-up", **config)
    chart.y_labels = list(names)
    chart.range = (0, len(bars) + 1)
    chart.value_formatter = lambda value: names.get(round(value), "")
    for index, bar in enumerate(bars):
        row = len(bars) - index
        start_label = {"label": f"{bar.name}: {bar.status_text}"}
        end = max(bar.end, bar.start + (axis.end - axis.start) * MIN_BAR_FRACTION)
        values = [{"value": (bar.start, row), **start_label}, {"value": (end, row), **start_label}]
        chart.add(f"{bar.name} ({bar.group.lower()}): {bar.status_text}", values, dots_size=1)
    return _without_script(str(chart.render(is_unicode=True)))
