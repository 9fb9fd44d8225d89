"""``/`` and ``/docs``: what the landing page tells, the strict CSP, and Swagger UI working offline in Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from service.hooks import SERVICE_IDS
from service.knowledge import load_knowledge
from service.version import package_version
from tests.serving import served

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def app(app_factory: Any) -> Flask:
    made: Flask = app_factory()
    return made


def test_landing_page_names_version_knowledge_services_and_links(app: Flask) -> None:
    page = app.test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert f'<dd id="version">{package_version()}</dd>' in html
    assert f'<dd id="knowledge-version">{load_knowledge().version}</dd>' in html
    for hook, service_id in SERVICE_IDS.items():
        assert f"<tr><td><code>{service_id}</code></td><td><code>{hook}</code></td>" in html
    for link in ("docs", "openapi.json", "knowledge/", "healthz", "readyz", "metrics", "cds-services"):
        assert f'href="{link}"' in html


@pytest.mark.parametrize("path", ["/", "/docs", "/docs/swagger/swagger-ui-bundle.js", "/site/docs.js"])
def test_pages_have_a_strict_csp_and_load_nothing_from_elsewhere(app: Flask, path: str) -> None:
    answer = app.test_client().get(path)
    answer.close()  # a served file is read lazily; the headers and the HTML pages are complete already
    policy = answer.headers["Content-Security-Policy"]
    assert answer.status_code == 200 and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "http" not in policy
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    if answer.mimetype == "text/html":
        sources = re.findall(r'(?:src|href)="([^"]+)"', answer.get_data(as_text=True))
        assert sources and all(not urlsplit(source).netloc for source in sources)
        assert "<script>" not in answer.get_data(as_text=True)  # no inline script


def test_only_the_swagger_files_the_page_needs_are_served(app: Flask) -> None:
    client = app.test_client()
    css = client.get("/docs/swagger/swagger-ui.css")
    css.close()
    assert css.status_code == 200
    assert client.get("/docs/swagger/index.html").status_code == 404
    assert client.get("/docs/swagger/..%2f__init__.py").status_code == 404


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium that can resolve no host but the loopback one: the page must work offline."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "run scripts/ensure-chromium (apt-get install chromium)"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    flags = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900")
    for flag in flags:
        options.add_argument(flag)
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _loaded_hosts(driver: webdriver.Chrome) -> set[str]:
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            hosts.add(urlsplit(url).netloc if not url.startswith("data:") else "data:")
    return hosts


def test_docs_and_landing_render_offline_in_chromium(browser: webdriver.Chrome, tmp_path: Path) -> None:
    with served(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=1) as base:
        browser.get(f"{base}/docs")
        wait = WebDriverWait(browser, 60)
        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path")))
        paths = {element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert "/cds-services" in {path.replace("\u200b", "") for path in paths}
        assert "CDS Hooks services" in browser.find_element(By.CSS_SELECTOR, ".info .title").text  # from openapi.json
        browser.save_screenshot(str(tmp_path / "docs-page.png"))
        problems = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert problems == []  # a CSP refusal or a failed load would be logged here
        browser.get(f"{base}/")
        wait.until(expected_conditions.presence_of_element_located((By.ID, "services")))
        rows = browser.find_elements(By.CSS_SELECTOR, "#services tbody tr")
        assert len(rows) == len(SERVICE_IDS)
        browser.save_screenshot(str(tmp_path / "landing-page.png"))
        assert _loaded_hosts(browser) <= {urlsplit(base).netloc, "data:"}
        assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_every_link_on_the_landing_page_answers(app: Flask) -> None:
    client = app.test_client()
    links = re.findall(r'<a href="([^"]+)"', client.get("/").get_data(as_text=True))
    assert len(links) >= 7
    for link in links:
        answer = client.get(f"/{link}")
        answer.close()
        assert answer.status_code == 200, link
