"""The launched work-up page shows hostile record text as text, under its CSP header (issue 23 row 4)."""

from __future__ import annotations

from urllib.parse import quote

import requests

from service.workup.page import PAGE_POLICY
from tests.engine.fhir_engine_harness import load_keeping_ids
from tests.hostile_text import assert_inert_html, poisoned
from tests.workup.conftest import PATIENT_ID, LaunchRig, trend_bundle
from tests.workup.smart_server import LaunchContext


def test_launched_page_shows_hostile_text_as_text(launch_rig: LaunchRig) -> None:
    load_keeping_ids(launch_rig.engine, poisoned(trend_bundle()))  # this module's own engine: no other test sees it
    launch_rig.smart.launches["L1"] = LaunchContext(PATIENT_ID, "finding=lab.magnesium.low")
    query = f"launch=L1&iss={quote(launch_rig.engine.base_url, safe='')}"
    with requests.Session() as browser:
        page = browser.get(f"{launch_rig.app_url}/workup/launch?{query}", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Security-Policy"].startswith(PAGE_POLICY + ";")
    findings = page.text[page.text.index('<section id="findings"') : page.text.index('<section id="trends"')]
    assert "evil.example" in findings
    assert_inert_html(findings)
