"""The work-up page: the screen's cards as findings, trend charts, medication timeline and checklist, as HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from cds_hooks import Card
from service.cards import provenance
from service.facts import build_facts
from service.facts.records import PatientRecord
from service.knowledge import Knowledge
from service.rules import text
from service.screen import offered_elsewhere, screen_patient
from service.workup.banner import Banner, banner
from service.workup.charts import (
    CHART_SIZES,
    Axis,
    ChartSize,
    LegendItem,
    Marker,
    lab_chart,
    lab_legend,
    medication_chart,
)
from service.workup.checklist import ChecklistItem, checklist
from service.workup.config import DEFAULT_WINDOW_DAYS
from service.workup.grid import RANGES, LabGrid, lab_grid
from service.workup.markers import drug_markers
from service.workup.series import LabSeries, lab_series
from service.workup.timeline import MedicationBar, medication_bars

PAGE_HOOK_INSTANCE = "workup-view"
# The page's Content-Security-Policy: no script, nothing fetched (images only as data: URIs). Served pages send it as a
# header (plus frame-ancestors, which a <meta> cannot carry); every page, the offline one included, has it as <meta>.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
# Card detail is CommonMark written by our own knowledge files; raw HTML stays off all the same.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})
_TEMPLATES = Environment(
    loader=PackageLoader("service.workup", "templates"), autoescape=select_autoescape(default=True), auto_reload=False
)


@dataclass(frozen=True)
class FindingView:
    """One card, as the page shows it."""

    rule_id: str
    indicator: str
    summary: str
    detail_html: Markup
    highlighted: bool


@dataclass(frozen=True)
class ChartView:
    """One analyte's chart and the data behind it."""

    series: LabSeries
    svgs: tuple[tuple[str, Markup], ...]  # (size name, SVG), widest first; CSS shows the one for the screen
    legend: tuple[LegendItem, ...]

    @property
    def svg(self) -> Markup:
        """The widest rendering."""
        return self.svgs[0][1]


@dataclass(frozen=True)
class WorkupPage:
    """Everything the template shows."""

    banner: Banner
    now: dt.datetime
    window_days: int
    axis: Axis
    findings: tuple[FindingView, ...]
    charts: tuple[ChartView, ...]
    grid: LabGrid
    bars: tuple[MedicationBar, ...]
    medication_svgs: tuple[tuple[str, Markup], ...]
    checklist: tuple[ChecklistItem, ...]
    knowledge_version: str
    highlight: str | None

    @property
    def patient(self) -> str:
        """The patient's one-line label (name, age, sex, birth date)."""
        return self.banner.label


def _finding(card: Card, highlight: str | None) -> FindingView:
    tag = provenance(card)
    rule_id = tag.rule_id if tag else ""
    detail = Markup(_MARKDOWN.render(card.detail or ""))  # noqa: S704 - markdown-it escapes (html off)
    return FindingView(rule_id, card.indicator.value, card.summary, detail, rule_id == highlight)


def _sizes(render: Callable[[ChartSize], str]) -> tuple[tuple[str, Markup], ...]:
    """A chart drawn at every size, widest first."""
    return tuple((size.name, Markup(render(size))) for size in reversed(CHART_SIZES))  # noqa: S704 - pygal escapes


def _chart_view(series: LabSeries, axis: Axis, bars: Sequence[MedicationBar], knowledge: Knowledge) -> ChartView:
    """An analyte's chart at every size, with the starts and stops of the drugs that act on it."""
    marks = drug_markers(bars, series.analyte.id, knowledge)
    render = partial(_lab_chart_at, series, axis, marks)
    return ChartView(series, _sizes(render), tuple(lab_legend(series, axis, marks)))


def _lab_chart_at(series: LabSeries, axis: Axis, marks: Sequence[Marker], size: ChartSize) -> str:
    return lab_chart(series, axis, size, marks)


def build_page(
    record: PatientRecord,
    *,
    now: dt.datetime,
    knowledge: Knowledge,
    window_days: int = DEFAULT_WINDOW_DAYS,
    highlight: str | None = None,
) -> WorkupPage:
    """Screen the record exactly as the hooks do and gather the page's charts, timeline and checklist."""
    result = screen_patient(record, now=now, hook_instance=PAGE_HOOK_INSTANCE, knowledge=knowledge)
    facts = build_facts(record, now=now, knowledge=knowledge)
    since = now - dt.timedelta(days=window_days)
    axis = Axis(since, now)
    bars = tuple(medication_bars(facts, knowledge, since))
    charts = tuple(_chart_view(s, axis, bars, knowledge) for s in lab_series(record.observations, knowledge, since))
    return WorkupPage(
        banner=banner(record.patient, now),
        now=now,
        window_days=window_days,
        axis=axis,
        findings=tuple(_finding(card, highlight) for card in result.cards),
        charts=charts,
        grid=lab_grid([chart.series for chart in charts]),
        bars=bars,
        medication_svgs=_sizes(partial(medication_chart, bars, axis)) if bars else (),
        checklist=tuple(checklist(facts, knowledge, offered_elsewhere(result.findings))),
        knowledge_version=knowledge.version,
        highlight=highlight,
    )


def render_page(page: WorkupPage, *, nonce: str | None = None, range_links: bool = False) -> str:
    """The page as one self-contained HTML document (inline SVG and CSS, no script, nothing fetched).

    ``range_links``: the date-range control as links (``?days=N``), for the served page; a saved file has none.
    """
    ranges = RANGES if range_links else ()
    return _TEMPLATES.get_template("workup.html").render(
        page=page, text=text, date=text.date, nonce=nonce, csp=PAGE_POLICY, ranges=ranges
    )


def render_message(title: str, message: str, *, action: str | None = None) -> str:
    """A short, clear page for a launch that cannot go on (never a stack trace)."""
    return _TEMPLATES.get_template("message.html").render(title=title, message=message, action=action, csp=PAGE_POLICY)
