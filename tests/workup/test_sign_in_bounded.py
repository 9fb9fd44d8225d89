"""Every outbound call of the launch is bounded (issue 23 row 3): a SMART configuration or token endpoint that drips,
stalls or never ends its answer, or sends a huge one, ends on a clear 504 / 502 page well inside the FHIR budget,
never a 500 or a worker held for gunicorn's 30 s."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from service.workup.smart import SIGN_IN_MAX_BYTES
from tests.conftest import AppFactory
from tests.loopback import Answer, Misbehaviour, hostile_fhir, loopback_server, serve_app

BUDGET_S = 1.5  # CDS_FHIR_TOTAL_TIMEOUT_S for these apps; each read timeout (1 s) is never reached by a drip
SETTINGS = {"fhir_total_timeout_s": BUDGET_S, "fhir_read_timeout_s": 1.0}
SLOW = [Misbehaviour.DRIP_HEADERS, Misbehaviour.DRIP_BODY, Misbehaviour.STALL]


def _title(page: requests.Response) -> str:
    match = re.search(r'<h1 id="message-title">([^<]*)</h1>', page.text)
    assert match, page.text[:300]
    return match.group(1)


def _timed_get(url: str, **kwargs: object) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = requests.get(url, timeout=30, allow_redirects=False, **kwargs)  # type: ignore[arg-type]
    return answer, time.monotonic() - started


@pytest.mark.parametrize("misbehaviour", SLOW, ids=str)
def test_slow_smart_configuration_is_a_504_page(app_factory: AppFactory, misbehaviour: Misbehaviour) -> None:
    with hostile_fhir(misbehaviour) as fhir:
        app = app_factory(fhir_server_allowlist=fhir.base_url, **SETTINGS)
        with serve_app(app) as url:
            page, took = _timed_get(f"{url}/workup/launch?launch=L1&iss={quote(fhir.base_url, safe='')}")
    assert page.status_code == 504 and _title(page) == "Sign-in service too slow"
    assert took < BUDGET_S + 1.5 and "Set-Cookie" not in page.headers


def test_endless_smart_configuration_is_cut_at_the_cap(app_factory: AppFactory) -> None:
    with hostile_fhir(Misbehaviour.ENDLESS) as fhir:
        app = app_factory(fhir_server_allowlist=fhir.base_url, **SETTINGS)
        with serve_app(app) as url:
            page, took = _timed_get(f"{url}/workup/launch?launch=L1&iss={quote(fhir.base_url, safe='')}")
    assert page.status_code == 502 and _title(page) == "Sign-in service not found" and took < BUDGET_S + 1.5


def test_huge_smart_configuration_is_a_502_page(app_factory: AppFactory) -> None:
    with loopback_server("/fhir") as fhir:
        endpoints = {"authorization_endpoint": f"{fhir.base_url}/a", "token_endpoint": f"{fhir.base_url}/t"}
        huge = json.dumps({**endpoints, "padding": "x" * SIGN_IN_MAX_BYTES}).encode()  # usable, but too large
        fhir.route("/.well-known/smart-configuration", Answer(raw=huge, content_type="application/json"))
        app = app_factory(fhir_server_allowlist=fhir.base_url, **SETTINGS)
        with serve_app(app) as url:
            page, _ = _timed_get(f"{url}/workup/launch?launch=L1&iss={quote(fhir.base_url, safe='')}")
    assert page.status_code == 502 and _title(page) == "Sign-in service not found"


def _launched(url: str, iss: str) -> tuple[requests.Session, str]:
    """A browser that has been through the launch: its session cookie and the state the app sent."""
    browser = requests.Session()
    launch = browser.get(f"{url}/workup/launch?launch=L1&iss={quote(iss, safe='')}", timeout=30, allow_redirects=False)
    assert launch.status_code == 302, launch.text[:300]
    return browser, parse_qs(urlsplit(launch.headers["Location"]).query)["state"][0]


@pytest.mark.parametrize("misbehaviour", [Misbehaviour.DRIP_BODY, Misbehaviour.STALL], ids=str)
def test_slow_token_endpoint_is_a_504_page(app_factory: AppFactory, misbehaviour: Misbehaviour) -> None:
    with hostile_fhir(misbehaviour) as token_server, loopback_server("/fhir") as fhir:
        endpoints = {"authorization_endpoint": f"{fhir.base_url}/authorize", "token_endpoint": token_server.base_url}
        fhir.route("/.well-known/smart-configuration", Answer(endpoints, content_type="application/json"))
        app = app_factory(fhir_server_allowlist=fhir.base_url, **SETTINGS)
        with serve_app(app) as url:
            browser, state = _launched(url, fhir.base_url)
            started = time.monotonic()
            page = browser.get(f"{url}/workup/callback?state={state}&code=c1", timeout=30, allow_redirects=False)
            took = time.monotonic() - started
            browser.close()
    assert page.status_code == 504 and _title(page) == "Sign-in service too slow"
    assert took < BUDGET_S + 1.5
