"""Every way a launch can fail ends on a clear page with a 4xx/5xx status, never a 500 or a redirect to nowhere."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests

from tests.conftest import AppFactory
from tests.workup.conftest import PATIENT_ID, LaunchRig
from tests.workup.smart_server import LaunchContext


def _title(response: requests.Response) -> str:
    match = re.search(r'<h1 id="message-title">([^<]*)</h1>', response.text)
    assert match, response.text[:500]
    return match.group(1)


def _launch(rig: LaunchRig, iss: str | None = None, launch: str | None = "L1") -> requests.Response:
    rig.smart.launches["L1"] = LaunchContext(PATIENT_ID, "finding=lab.magnesium.low")
    query = f"iss={quote(iss or rig.engine.base_url, safe='')}" + (f"&launch={launch}" if launch else "")
    with requests.Session() as browser:
        return browser.get(f"{rig.app_url}/workup/launch?{query}", timeout=30)


def test_ehr_launch_without_a_browser_reaches_the_page(launch_rig: LaunchRig) -> None:
    launch_rig.smart.launches["L1"] = LaunchContext(PATIENT_ID, "finding=lab.magnesium.low")
    with requests.Session() as browser:
        query = f"launch=L1&iss={quote(launch_rig.engine.base_url, safe='')}"
        page = browser.get(f"{launch_rig.app_url}/workup/launch?{query}", timeout=30)
        ids = [r.cookies.get("workup_session") for r in page.history if "workup_session" in r.cookies]
        assert len(ids) == 2 and ids[0] != ids[1]  # a new session id once authorised
        reload = browser.get(f"{launch_rig.app_url}/workup/?days=99999", timeout=30)
        assert reload.status_code == 200 and "(3650 days)" in reload.text
    assert page.status_code == 200 and page.url == f"{launch_rig.app_url}/workup/"
    assert 'data-rule-id="lab.magnesium.low"' in page.text and launch_rig.token not in page.text
    assert launch_rig.smart.audiences[-1] == launch_rig.engine.base_url


def test_iss_off_the_allow_list_is_refused_before_any_redirect(launch_rig: LaunchRig) -> None:
    seen = len(launch_rig.smart.requests)
    foreign = f"{launch_rig.smart.base_url}/fhir"  # a loopback server, but not the allowed FHIR base
    with requests.Session() as browser:
        answer = browser.get(
            f"{launch_rig.app_url}/workup/launch?launch=L1&iss={quote(foreign, safe='')}",
            timeout=30,
            allow_redirects=False,
        )
    assert answer.status_code == 403 and _title(answer) == "FHIR server not allowed"
    assert "Set-Cookie" not in answer.headers and len(launch_rig.smart.requests) == seen


def test_launch_without_iss_says_so(launch_rig: LaunchRig) -> None:
    answer = requests.get(f"{launch_rig.app_url}/workup/launch?launch=L1", timeout=30)
    assert answer.status_code == 400 and _title(answer) == "Launch incomplete"


def test_server_without_smart_configuration(launch_rig: LaunchRig) -> None:
    answer = _launch(launch_rig, iss=f"{launch_rig.engine.base_url}/nowhere")
    assert answer.status_code == 502 and _title(answer) == "Sign-in service not found"


# What the authorization server does wrong, and the page (status, title, a part of its URL) the launch ends on.
AUTHORIZATION_FAILURES = {
    "bad state": ("tamper_state", True, 400, "Launch could not be verified", "/workup/callback"),
    "denied": ("deny", True, 403, "Access was not granted", "error=access_denied"),
    "expired token": ("expires_in", 0, 401, "Session expired", "/workup/"),
    "token the FHIR server rejects": ("access_token", "unknown-to-the-engine", 401, "Session expired", "/workup/"),
}


@pytest.mark.parametrize("case", sorted(AUTHORIZATION_FAILURES))
def test_authorization_failures_end_on_a_clear_page(launch_rig: LaunchRig, case: str) -> None:
    setting, value, status, title, url_part = AUTHORIZATION_FAILURES[case]
    setattr(launch_rig.smart, setting, value)
    answer = _launch(launch_rig)
    assert answer.status_code == status and _title(answer) == title
    assert url_part in answer.url


def test_callback_without_a_launch_is_refused(launch_rig: LaunchRig) -> None:
    answer = requests.get(f"{launch_rig.app_url}/workup/callback?code=abc&state=xyz", timeout=30)
    assert answer.status_code == 400 and _title(answer) == "Launch could not be verified"


def test_page_without_a_session(launch_rig: LaunchRig) -> None:
    answer = requests.get(f"{launch_rig.app_url}/workup/", timeout=30)
    assert answer.status_code == 401 and _title(answer) == "Not launched"


def test_standalone_launch(launch_rig: LaunchRig) -> None:
    launch_rig.smart.standalone_patient = PATIENT_ID
    page = _launch(launch_rig, launch=None)
    assert page.status_code == 200 and "aria-current" not in page.text
    authorize = [r for r in launch_rig.smart.requests if r.startswith("/authorize")][-1]
    assert "scope=launch%2Fpatient+openid" in authorize and "&launch=" not in authorize


def test_headers_and_cookie(launch_rig: LaunchRig) -> None:
    with requests.Session() as browser:
        first = browser.get(
            f"{launch_rig.app_url}/workup/launch?iss={quote(launch_rig.engine.base_url, safe='')}",
            timeout=30,
            allow_redirects=False,
        )
    assert first.status_code == 302
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    location = first.headers["Location"]
    assert "code_challenge_method=S256" in location and "state=" in location and "aud=" in location
    csp = first.headers["Content-Security-Policy"]
    assert (
        "frame-ancestors 'self' http://127.0.0.1:*" in csp and "script-src" not in csp and "default-src 'none'" in csp
    )


def test_cookie_behind_tls_works_in_an_ehr_iframe(launch_rig: LaunchRig, app_factory: AppFactory) -> None:
    app = app_factory(fhir_server_allowlist=launch_rig.engine.base_url)
    iss = quote(launch_rig.engine.base_url, safe="")
    first = app.test_client().get(f"/workup/launch?iss={iss}", base_url="https://cds.example.org")
    assert first.status_code == 302
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("__Host-workup_session=") and "Secure" in cookie and "SameSite=None" in cookie
    assert "redirect_uri=https%3A%2F%2Fcds.example.org%2Fworkup%2Fcallback" in first.headers["Location"]
