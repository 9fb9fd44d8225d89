"""The charts read at an EHR side panel's width: in headless Chromium at 420 px and 1,280 px every visible chart's text
measures at least 11 px, no legend label is clipped or runs into another, and the page logs no script error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from bench.workup_screenshots import main
from service.workup.charts import Axis, month_ticks
from service.workup.offline import bundle_page
from tests.conftest import NOW, ROOT
from tests.workup.conftest import TREND_BUNDLE

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MIN_TEXT_PX = 11.0
WIDTHS = (360, 420, 1280)
# Every visible <text> of every chart: its rendered font size (computed size times the SVG's scale on screen), and
# for legend labels (in the SVG, or the HTML legend under a chart) the box on screen, with the SVG's (figure's) box
# and the other labels' boxes to check clipping and overlap.
MEASURE = """
const out = {texts: [], legends: [], charts: 0};
for (const svg of document.querySelectorAll('figure .chart-size svg')) {
  const box = svg.getBoundingClientRect();
  if (box.width === 0 || getComputedStyle(svg.parentElement).display === 'none') continue;
  out.charts += 1;
  for (const t of svg.querySelectorAll('text')) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 || !t.textContent.trim()) continue;
    const m = t.getScreenCTM(), px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    out.texts.push({text: t.textContent.trim(), px: px});
  }
  const labels = [...svg.querySelectorAll('.legends .legend text')].map(t => t.getBoundingClientRect());
  out.legends.push({svg: [box.left, box.top, box.right, box.bottom],
                    labels: labels.map(r => [r.left, r.top, r.right, r.bottom])});
}
for (const list of document.querySelectorAll('figure ul.legend')) {
  const box = list.closest('figure').getBoundingClientRect();
  const items = [...list.querySelectorAll('li')];
  for (const li of items) out.texts.push({text: li.textContent.trim(), px: parseFloat(getComputedStyle(li).fontSize)});
  out.legends.push({svg: [box.left, box.top, box.right, box.bottom],
                    labels: items.map(li => li.getBoundingClientRect()).map(r => [r.left, r.top, r.right, r.bottom])});
}
return out;
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium from the system packages (scripts/ensure-chromium), browser log kept for script errors."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "run scripts/ensure-chromium (apt-get install chromium)"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The work-up page of the magnesium trend patient (labs, corrected calcium, a drug), as a file."""
    path = tmp_path_factory.mktemp("workup") / "page.html"
    path.write_text(bundle_page(str(TREND_BUNDLE), now=NOW, highlight="lab.magnesium.low"), encoding="utf-8")
    return path


def _measure(driver: webdriver.Chrome, page: Path, width: int) -> dict[str, Any]:
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.get(page.as_uri() + "#trends")  # on narrow screens the grid is the default view; the charts open here
    result: dict[str, Any] = driver.execute_script(MEASURE)
    return result


def _inside(inner: list[float], outer: list[float]) -> bool:
    return inner[0] >= outer[0] - 0.5 and inner[2] <= outer[2] + 0.5 and inner[1] >= outer[1] - 0.5


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


@pytest.mark.parametrize("width", WIDTHS)
def test_chart_text_is_readable_and_legends_whole(browser: webdriver.Chrome, page_file: Path, width: int) -> None:
    browser.get_log("browser")  # drop what an earlier page logged
    measured = _measure(browser, page_file, width)
    assert measured["charts"] >= 4  # calcium, magnesium, potassium and the medication timeline
    small = [(t["text"], round(t["px"], 1)) for t in measured["texts"] if t["px"] < MIN_TEXT_PX]
    assert measured["texts"] and not small, f"text under {MIN_TEXT_PX} px at {width} px: {small[:8]}"
    for chart in measured["legends"]:
        labels = chart["labels"]
        assert all(_inside(label, chart["svg"]) for label in labels), f"legend label clipped at {width} px"
        assert not [(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :] if _overlap(a, b)]
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def test_ticks_fall_on_month_starts() -> None:
    axis = Axis(dt.datetime(2024, 11, 20, 12, tzinfo=dt.UTC), dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
    ticks = month_ticks(axis, 8)
    assert [t.strftime("%Y-%m-%d") for t in ticks] == [
        "2025-01-01",
        "2025-04-01",
        "2025-07-01",
        "2025-10-01",
        "2026-01-01",
        "2026-04-01",
        "2026-07-01",
        "2026-10-01",
    ]
    assert len(month_ticks(axis, 4)) <= 4 and all(t.day == 1 for t in month_ticks(axis, 4))
    short = Axis(dt.datetime(2026, 8, 20, tzinfo=dt.UTC), dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    assert [t.month for t in month_ticks(short, 8)] == [9, 10, 11]


def test_now_line_is_drawn(page_file: Path) -> None:
    html = page_file.read_text(encoding="utf-8")
    assert html.count("Now (2026-11-20)") >= 3  # in the legend of every lab chart (each size)


@pytest.mark.parametrize("width, charts_shown", [(420, False), (1280, True)])
def test_grid_is_the_narrow_default_view(
    browser: webdriver.Chrome, page_file: Path, width: int, charts_shown: bool
) -> None:
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    browser.get(page_file.as_uri())
    shown = "return getComputedStyle(document.querySelector(arguments[0])).display !== 'none';"
    assert browser.execute_script(shown, "table.lab-grid")
    assert browser.execute_script(shown, "#trends figure") is charts_shown
    browser.get(page_file.as_uri() + "#trends")  # the "Show the trend charts" link
    assert browser.execute_script(shown, "#trends figure")


def test_screenshot_script_writes_both_widths(tmp_path: Path) -> None:
    assert main(tmp_path) == 0
    shots = sorted(path.name for path in tmp_path.glob("*.png"))
    assert shots == sorted(f"workup-{w}-{part}.png" for w in (420, 1280) for part in ("banner", "grid", "trends"))
    assert all((tmp_path / name).read_bytes().startswith(b"\x89PNG") for name in shots)
    assert {name for name in shots} <= {path.name for path in (ROOT / "docs").glob("workup-*.png")}


@pytest.mark.parametrize("width", [420, 1280])
def test_print_layout(browser: webdriver.Chrome, page_file: Path, width: int) -> None:
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        browser.get(page_file.as_uri())
        shown = "return [...document.querySelectorAll(arguments[0])].map(e => getComputedStyle(e).display !== 'none');"
        assert browser.execute_script(shown, "header nav") == [False]
        assert all(browser.execute_script(shown, "#trends figure"))  # every chart, whatever the screen's default
        assert all(browser.execute_script(shown, "#trends figure .chart-wide"))
        assert not any(browser.execute_script(shown, "#trends figure .chart-narrow"))
        tables = "return [...document.querySelectorAll('table.lab-values')].map(t => t.getBoundingClientRect().height);"
        heights = browser.execute_script(tables)
        assert heights and all(height > 0 for height in heights)  # the value tables print open
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
