"""``summary.html``: patients screened and with cards, by rule and indicator, work-up completeness, data problems.

A static page (no script; pygal SVG bar charts like the work-up view's, each with its numbers as a table too).
Counts only: no patient id is on this page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import jinja2
import pyarrow as pa
import pygal
from pygal.style import Style

from service.cohort.duckdb_stage import StageCounts
from service.cohort.outputs import SUMMARY, replaced, results_table
from service.workup.charts import CHART_WIDTH

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("service.cohort", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
)
INDICATOR_COLOURS = {"critical": "#b71c1c", "warning": "#e65100", "info": "#1565c0"}
_STYLE = Style(background="white", plot_background="white", font_family="sans-serif", colors=("#37474f",))


def bar_chart(title: str, counts: Sequence[tuple[str, int]]) -> str:
    """A horizontal bar chart as inline SVG (no script)."""
    chart = pygal.HorizontalBar(
        width=CHART_WIDTH, height=max(160, 40 + 28 * len(counts)), style=_STYLE, show_legend=False, js=()
    )
    chart.title = title
    chart.x_labels = [label for label, _ in counts]
    chart.add(title, [count for _, count in counts])
    svg: str = chart.render(is_unicode=True)
    return svg.split("<script", 1)[0] + svg.split("</script>", 1)[1] if "<script" in svg else svg


def _tallies(table: pa.Table) -> dict[str, Counter[str]]:
    rows = zip(
        *(table.column(c).to_pylist() for c in ("has_cards", "indicator", "rule_ids", "screen_mode", "workup_open")),
        strict=True,
    )
    tallies: dict[str, Counter[str]] = {name: Counter() for name in ("indicator", "rule", "mode", "workup")}
    for has_cards, indicator, rule_ids, mode, workup_open in rows:
        tallies["mode"][mode] += 1
        if mode == "full":
            tallies["workup"]["incomplete" if workup_open else "complete"] += 1
        if has_cards:
            tallies["indicator"][indicator] += 1
            tallies["rule"].update(rule_ids.split(";"))
    return tallies


def write_summary(
    files: Sequence[Path], problems: Sequence[tuple[str, int | None, str]], counts: StageCounts, out: Path
) -> None:
    """Write ``summary.html`` for the finished run."""
    table = results_table(files, ["patient_id", "has_cards", "indicator", "rule_ids", "screen_mode", "workup_open"])
    skipped = results_table(files, ["patient_id", "skipped"]).column("skipped").to_pylist()
    tallies = _tallies(table)
    by_file = Counter(name for name, _, _ in problems)
    by_kind = Counter(problem for _, _, problem in problems)
    rules = tallies["rule"].most_common()
    indicators = [(name, tallies["indicator"][name]) for name in INDICATOR_COLOURS if tallies["indicator"][name]]
    page = _ENV.get_template("summary.html").render(
        screened=table.num_rows,
        with_cards=sum(tallies["indicator"].values()),
        modes=sorted(tallies["mode"].items()),
        workup=tallies["workup"],
        rules=rules,
        indicators=indicators,
        rule_chart=bar_chart("Patients by rule", rules) if rules else "",
        indicator_chart=bar_chart("Patients by highest indicator", indicators) if indicators else "",
        kept=sorted(counts.kept.items()),
        problems_by_file=sorted(by_file.items()),
        problems_by_kind=by_kind.most_common(),
        unreadable_files=sum(1 for _, line, _ in problems if line is None),
        skipped=sum(skipped),
        patients_with_skips=sum(1 for value in skipped if value),
    )
    with replaced(out / SUMMARY) as handle:
        handle.write(page.encode())
