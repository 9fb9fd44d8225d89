"""The whole EHR launch in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium).

The test plays the EHR: it calls the patient-view hook, takes the card's SMART link, registers a launch at the
authorization server and opens the link with ``launch`` and ``iss`` in the browser. Then it reads the page back
from the DOM: the highlighted finding, the magnesium chart's points, the medication timeline. The access token must
appear in no URL the browser loaded, no log line, and not in the page.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from markupsafe import Markup
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from service.facts.records import build_record
from service.hooks import SERVICE_ID
from service.knowledge import load_knowledge
from service.workup.page import build_page, render_page
from tests.conftest import NOW
from tests.loopback import Answer, loopback_server
from tests.workup.conftest import PATIENT_ID, ROOT, LaunchRig
from tests.workup.smart_server import LaunchContext

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# (date: value, reading) of every magnesium point on the chart (fixtures/workup/magnesium_trend.json).
EXPECTED_MAGNESIUM = {
    ("2025-03-10: 2 mg/dL", "normal"),  # reported as 2.0, but the Node engine serves JSON numbers as 2
    ("2025-09-15: 1.8 mg/dL", "normal"),
    ("2026-02-10: 1.6 mg/dL", "low"),
    ("2026-11-16: 1.1 mg/dL", "critical"),
    ("2026-11-19: 1.3 mg/dL", "preliminary, not final"),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium from the system packages (scripts/ensure-chromium installs them); never a downloaded build."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "run scripts/ensure-chromium (apt-get install chromium)"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _card_link(rig: LaunchRig) -> dict[str, str]:
    body = json.loads((ROOT / "fixtures" / "requests" / "patient-view" / "magnesium_first.json").read_text())
    cards = requests.post(f"{rig.app_url}/cds-services/{SERVICE_ID}", json=body, timeout=30).json()["cards"]
    link: dict[str, str] = cards[0]["links"][0]
    assert link["type"] == "smart" and link["url"] == f"{rig.app_url}/workup/launch"
    return link


def _loaded_urls(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _chart_points(driver: webdriver.Chrome, analyte: str) -> set[tuple[str, str]]:
    points = set()
    for dots in driver.find_elements(By.CSS_SELECTOR, f"#chart-{analyte} svg g.dots"):
        value = dots.find_element(By.CSS_SELECTOR, "desc.value").get_attribute("textContent") or ""
        label = dots.find_element(By.CSS_SELECTOR, "desc.label").get_attribute("textContent") or ""
        points.add((value, label.split(";")[0]))
    return points


def test_ehr_launch_in_chromium(
    launch_rig: LaunchRig, browser: webdriver.Chrome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    link = _card_link(launch_rig)
    launch_rig.smart.launches["ehr-launch-1"] = LaunchContext(PATIENT_ID, link["appContext"])
    browser.get_log("performance")  # drop anything logged before the launch
    browser.get(f"{link['url']}?launch=ehr-launch-1&iss={quote(launch_rig.engine.base_url, safe='')}")
    WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.ID, "findings")))

    assert browser.current_url == f"{launch_rig.app_url}/workup/"
    highlighted = browser.find_element(By.CSS_SELECTOR, "article.finding.highlighted")
    assert highlighted.get_attribute("data-rule-id") == "lab.magnesium.low"
    assert highlighted.get_attribute("aria-current") == "true"
    assert browser.find_element(By.CSS_SELECTOR, "#chart-magnesium svg").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "nav.range strong.current").text == "2 years"
    assert _chart_points(browser, "magnesium") == EXPECTED_MAGNESIUM
    timeline = browser.find_element(By.ID, "medication-timeline").get_attribute("textContent") or ""
    assert "Omeprazole" in timeline and "ongoing since 2024-11-20" in timeline
    assert "Omeprazole" in browser.find_element(By.ID, "medication-table").text

    token = launch_rig.token
    urls = _loaded_urls(browser)
    assert any("/workup/callback?code=" in url for url in urls)
    assert not [url for url in urls if token in url]
    assert token not in browser.page_source
    ours = [r for r in caplog.records if not r.name.startswith("authlib")]  # the test server's library may log it
    assert ours and not [r for r in ours if token in r.getMessage()]
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["workup_session"]["httpOnly"] and token not in json.dumps(list(cookies.values()))


def test_screenshot_tool_is_the_system_chromium() -> None:
    found = shutil.which("chromium")  # CI's second pass puts links to /usr/bin's programs on the PATH instead
    assert found is not None and Path(found).resolve() == CHROMIUM.resolve()


def _offline_page(tmp_path: Path, image_url: str, with_policy: bool) -> Path:
    """The offline page of a fixture patient with an <img> planted past the escaping (the CSP is all that is left)."""
    record = build_record([json.loads((ROOT / "fixtures" / "patients" / "magnesium_first.json").read_bytes())])
    page = build_page(record, now=NOW, knowledge=load_knowledge())
    planted = Markup(f'<img id="planted" src="{image_url}" alt="planted">')  # noqa: S704 - the attack under test
    page = replace(page, findings=tuple(replace(f, detail_html=planted) for f in page.findings))
    html = render_page(page)
    if not with_policy:
        html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    path = tmp_path / ("page.html" if with_policy else "page-without-csp.html")
    path.write_text(html, encoding="utf-8")
    return path


def test_offline_page_loads_no_image_in_chromium(browser: webdriver.Chrome, tmp_path: Path) -> None:
    with loopback_server() as tracker:
        for with_policy in (False, True):  # first the control: without the CSP the planted image does load
            image = f"/t-{with_policy}.png"  # one URL per page: a cached image would never reach the server
            tracker.route(image, Answer(raw=b"GIF89a", content_type="image/gif"))
            browser.get(_offline_page(tmp_path, tracker.url(image), with_policy).as_uri())
            WebDriverWait(browser, 10).until(expected_conditions.presence_of_element_located((By.ID, "findings")))
            deadline = time.monotonic() + 3.0
            while not tracker.hits[image] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert bool(tracker.hits[image]) is not with_policy, with_policy
