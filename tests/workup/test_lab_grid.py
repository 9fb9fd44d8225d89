"""The lab grid (flowsheet) with its flags, and the date-range control (links, on the served page only)."""

from __future__ import annotations

import json
import re

from service.facts.ownership import PatientInContext
from service.facts.records import build_record
from service.knowledge import load_knowledge
from service.workup.grid import RANGES
from service.workup.offline import bundle_page
from service.workup.page import build_page, render_page
from tests.conftest import NOW
from tests.workup.conftest import TREND_BUNDLE


def _html() -> str:
    return bundle_page(str(TREND_BUNDLE), now=NOW)


def _served_html() -> str:
    """The page as the blueprint renders it (the served page has the range links)."""
    bundle = json.loads(TREND_BUNDLE.read_bytes())
    record = build_record([bundle], patient=PatientInContext("magnesium-first"))
    return render_page(build_page(record, now=NOW, knowledge=load_knowledge()), range_links=True)


def _row(html: str, analyte: str) -> list[str]:
    row = re.search(rf'<tr data-analyte="{analyte}">(.*?)</tr>', html, re.S)
    assert row, f"no grid row for {analyte}"
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def test_grid_has_dates_newest_first_and_flags() -> None:
    html = _html()
    grid = html[html.index('<table class="lab-grid">') : html.index("</table>", html.index('<table class="lab-grid">'))]
    dates = re.findall(r'<th scope="col">(\d{4}-\d{2}-\d{2})</th>', grid)
    assert dates == sorted(dates, reverse=True) and dates[0] == "2026-11-19" and dates[-1] == "2025-03-10"
    assert _row(html, "magnesium") == ["1.3 P", "1.1 C", "1.6 L", "1.8", "2.0"]
    assert _row(html, "potassium")[1:4] == ["3.1 L", "3.6", "4.1"]
    assert '<abbr class="flag" title="preliminary, not final">P</abbr>' in grid
    assert '<abbr class="flag" title="critical">C</abbr>' in grid
    assert "Albumin-corrected calcium" in grid


def test_range_control_is_links_on_the_served_page_only() -> None:
    served = _served_html()
    links = re.findall(r'<a href="\?days=(\d+)">([^<]+)</a>', served)
    assert [(int(days), label) for days, label in links] == [(d, label) for label, d in RANGES if label != "2 years"]
    assert re.findall(r'<strong class="current">([^<]+)</strong>', served) == ["2 years"]  # the default window
    assert 'class="range"' not in _html()  # a saved page cannot reload itself with another window


def test_drug_start_is_marked_on_the_charts_of_the_labs_it_acts_on() -> None:
    bundle = json.loads(TREND_BUNDLE.read_bytes())
    record = build_record([bundle], patient=PatientInContext("magnesium-first"))
    page = build_page(record, now=NOW, knowledge=load_knowledge())
    legends = {chart.series.analyte.id: [item.title for item in chart.legend] for chart in page.charts}
    assert "Omeprazole started 2024-11-20" in legends["magnesium"]  # medications.yaml: ppi labs [magnesium, b12]
    assert not [title for title in legends["potassium"] + legends["calcium_total"] if "Omeprazole" in title]
    magnesium = next(chart for chart in page.charts if chart.series.analyte.id == "magnesium")
    drawn = {len(set(re.findall(r'<g class="series serie-(\d+)', str(svg)))) for _, svg in magnesium.svgs}
    assert drawn == {len(magnesium.legend)}  # every legend line, the start marker included, is drawn at every size


def test_corrected_calcium_dot_is_smaller_than_the_total_it_may_cover() -> None:
    bundle = json.loads(TREND_BUNDLE.read_bytes())
    page = build_page(
        build_record([bundle], patient=PatientInContext("magnesium-first")), now=NOW, knowledge=load_knowledge()
    )
    calcium = next(chart for chart in page.charts if chart.series.analyte.id == "calcium_total")
    svg = str(calcium.svg)
    radius = {
        int(serie): {float(r) for r in re.findall(r'<circle[^>]*r="([\d.]+)"', body)}
        for serie, body in re.findall(
            r'<g class="series serie-(\d+)[^"]*"[^>]*>(.*?)</g>\s*(?=<g class="series|</g>)', svg, re.S
        )
    }
    titles = [item.title for item in calcium.legend]
    total, corrected = radius[titles.index("Normal")], radius[titles.index("Albumin-corrected calcium")]
    assert total and corrected and min(total) >= 1.5 * max(corrected)  # a ring of the total shows round it


def _legends(fixture: str) -> dict[str, list[str]]:
    bundle = json.loads((TREND_BUNDLE.parents[1] / "patients" / f"{fixture}.json").read_bytes())
    page = build_page(build_record([bundle]), now=NOW, knowledge=load_knowledge())
    return {chart.series.analyte.id: [item.title for item in chart.legend] for chart in page.charts}


def test_dose_change_and_interacting_drug_are_marked() -> None:
    thyroid = _legends("levothyroxine_dose_change")["tsh"]
    assert "Levothyroxine started (50 ug) 2025-07-08" in thyroid
    assert "Levothyroxine dose changed to 75 ug 2026-10-31" in thyroid
    lithium = _legends("lithium_dose_change_unsteady")["lithium"]
    assert "Lithium product or dose changed 2026-11-14" in lithium  # 300 mg capsule to 300 mg tablet (RxNorm codes)
    assert "Ibuprofen started 2026-05-04" in lithium  # an NSAID raises the lithium level


def test_dose_is_on_the_bar_and_in_the_table() -> None:
    bundle = json.loads((TREND_BUNDLE.parents[1] / "patients" / "levothyroxine_dose_change.json").read_bytes())
    page = build_page(build_record([bundle]), now=NOW, knowledge=load_knowledge())
    html, svg = render_page(page), str(page.medication_svgs[0][1])
    assert "Levothyroxine 75 ug" in svg and '<td class="dose">75 ug</td>' in html
