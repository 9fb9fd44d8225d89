"""The work-up page: the screen's cards as findings, trend charts, medication timeline and checklist, as HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
from service.workup.charts import Axis, lab_chart, medication_chart
from service.workup.checklist import ChecklistItem, checklist
from service.workup.config import DEFAULT_WINDOW_DAYS
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
    svg: Markup


@dataclass(frozen=True)
class WorkupPage:
    """Everything the template shows."""

    patient: str
    now: dt.datetime
    window_days: int
    axis: Axis
    findings: tuple[FindingView, ...]
    charts: tuple[ChartView, ...]
    bars: tuple[MedicationBar, ...]
    medication_svg: Markup | None
    checklist: tuple[ChecklistItem, ...]
    knowledge_version: str
    highlight: str | None


def patient_label(record: PatientRecord) -> str:
    """Name, birth date and sex of the Patient resource, for the right-patient check on the page."""
    patient = record.patient or {}
    names = patient["name"] if isinstance(patient.get("name"), list) else []
    name = next((n for n in names if isinstance(n, dict)), {})
    given = " ".join(g for g in name.get("given") or [] if isinstance(g, str))
    label = name.get("text") if isinstance(name.get("text"), str) else f"{given} {name.get('family') or ''}".strip()
    extras = [f"born {patient['birthDate']}" if isinstance(patient.get("birthDate"), str) else ""]
    extras += [str(patient["gender"])] if isinstance(patient.get("gender"), str) else []
    return ", ".join(part for part in [label or "Unnamed patient", *extras] if part)


def _finding(card: Card, highlight: str | None) -> FindingView:
    tag = provenance(card)
    rule_id = tag.rule_id if tag else ""
    detail = Markup(_MARKDOWN.render(card.detail or ""))  # noqa: S704 - markdown-it escapes (html off)
    return FindingView(rule_id, card.indicator.value, card.summary, detail, rule_id == highlight)


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
    charts = tuple(ChartView(s, Markup(lab_chart(s, axis))) for s in lab_series(record.observations, knowledge, since))
    bars = tuple(medication_bars(facts, knowledge, since))
    return WorkupPage(
        patient=patient_label(record),
        now=now,
        window_days=window_days,
        axis=axis,
        findings=tuple(_finding(card, highlight) for card in result.cards),
        charts=charts,
        bars=bars,
        medication_svg=Markup(medication_chart(bars, axis)) if bars else None,
        checklist=tuple(checklist(facts, knowledge, offered_elsewhere(result.findings))),
        knowledge_version=knowledge.version,
        highlight=highlight,
    )


def render_page(page: WorkupPage, *, nonce: str | None = None) -> str:
    """The page as one self-contained HTML document (inline SVG and CSS, no script, nothing fetched)."""
    return _TEMPLATES.get_template("workup.html").render(
        page=page, text=text, date=text.date, nonce=nonce, csp=PAGE_POLICY
    )


def render_message(title: str, message: str, *, action: str | None = None) -> str:
    """A short, clear page for a launch that cannot go on (never a stack trace)."""
    return _TEMPLATES.get_template("message.html").render(title=title, message=message, action=action, csp=PAGE_POLICY)
