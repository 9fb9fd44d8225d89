"""``workup --bundle`` renders a page for every scenario fixture and every Synthea patient, same findings as cards."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from service.cli import main
from service.facts.records import build_record
from service.knowledge import load_knowledge
from service.screen import screen_patient
from service.workup.page import build_page, render_page
from tests.conftest import NOW
from tests.synthea_data import read_bundle, synthea_paths

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patients"
SCENARIOS = sorted(FIXTURES.glob("*.json"))
SYNTHEA_BUNDLES = synthea_paths()


class _Summaries(HTMLParser):
    """Collects the text of every ``span.summary`` and the rule id of every finding, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[str] = []
        self.rule_ids: list[str] = []
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "article" and values.get("data-rule-id"):
            self.rule_ids.append(str(values["data-rule-id"]))
        if tag == "span" and values.get("class") == "summary":
            self._in_summary, _ = True, self.summaries.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_summary = False

    def handle_data(self, data: str) -> None:
        if self._in_summary:
            self.summaries[-1] += data


def test_all_scenarios_and_synthea_bundles_are_there() -> None:
    assert len(SCENARIOS) >= 20
    assert len(SYNTHEA_BUNDLES) == 18


@pytest.mark.parametrize("bundle", SCENARIOS + SYNTHEA_BUNDLES, ids=lambda p: p.stem.split("_")[0][:30])
def test_workup_cli_renders_every_patient(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    assert main(["workup", "--bundle", str(bundle), "--now", NOW.isoformat(), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html and "http://" not in html.split("<main>")[0]
    record = build_record([read_bundle(bundle)])
    cards = screen_patient(record, now=NOW, hook_instance="workup-view", knowledge=load_knowledge()).cards
    parsed = _Summaries()
    parsed.feed(html)
    assert parsed.summaries == [card.summary for card in cards]  # same words, same order as the cards


def test_magnesium_page_has_trend_points_timeline_and_checklist() -> None:
    record = build_record([json.loads((FIXTURES / "magnesium_first.json").read_bytes())])
    page = build_page(record, now=NOW, knowledge=load_knowledge(), highlight="lab.magnesium.low")
    html = render_page(page)
    magnesium = next(chart for chart in page.charts if chart.series.analyte.id == "magnesium")
    assert [(p.reported, p.judgement.value) for p in magnesium.series.points] == [("1.1 mg/dL", "critical")]
    assert re.search(r'<desc class="value">2026-11-16: 1.1 mg/dL</desc>', str(magnesium.svg))
    assert [bar.name for bar in page.bars] == ["Omeprazole"] and page.bars[0].ongoing
    assert 'id="finding-lab.magnesium.low"' in html and 'aria-current="true"' in html
    states = {item.analyte_id: item.state.value for item in page.checklist}
    assert states["magnesium"] == "done" and set(states.values()) <= {"done", "stale", "missing"}


def test_window_leaves_older_results_out() -> None:
    record = build_record([json.loads((FIXTURES / "stale_labs.json").read_bytes())])
    wide = build_page(record, now=NOW, knowledge=load_knowledge(), window_days=3650)
    narrow = build_page(record, now=NOW, knowledge=load_knowledge(), window_days=30)
    assert sum(len(c.series.points) for c in narrow.charts) < sum(len(c.series.points) for c in wide.charts)
    missing_or_stale = {i.analyte_id for i in narrow.checklist if i.state.value != "done"}
    assert missing_or_stale and all(i.order for i in narrow.checklist if i.state.value != "done")


@pytest.mark.parametrize("bundle", SYNTHEA_BUNDLES, ids=lambda p: p.stem.split("_")[0])
def test_synthea_whole_history_is_charted(bundle: Path) -> None:
    """Over the whole record (Synthea histories end before the fixtures' NOW) every judged result is a chart point."""
    record = build_record([read_bundle(bundle)])
    page = build_page(record, now=NOW, knowledge=load_knowledge(), window_days=36500)
    assert page.charts
    for chart in page.charts:
        plotted = [p for p in chart.series.points if p.canonical is not None]
        assert str(chart.svg).count('<desc class="value">') == len(plotted) + len(chart.series.corrected)


def test_page_is_navigable_without_a_mouse_or_sight() -> None:
    """Landmarks, a skip link, one h1, captioned tables and a text alternative for every chart."""
    html = render_page(
        build_page(
            build_record([json.loads((FIXTURES / "lithium_toxic.json").read_bytes())]),
            now=NOW,
            knowledge=load_knowledge(),
        )
    )
    assert '<html lang="en">' in html and html.count("<h1") == 1 and '<a class="skip" href="#findings">' in html
    assert "<main>" in html and "<header>" in html and '<nav aria-label="Sections">' in html
    figures = html.count('<figure class="lab-chart"')
    assert figures > 0 and html.count('<table class="lab-values">') == figures
    assert html.count('role="img" aria-label="Trend chart of') == figures
    assert html.count("<caption>") == figures + 3  # plus the lab grid, the medication table and the checklist
    assert "@media print" in html
