"""Every outbound call of the work-up view is bounded (issue 23 row 3): a SMART configuration, token endpoint or FHIR
server that drips, stalls or never ends its answer, or sends a huge one, ends on a clear 504 / 502 page well inside
the FHIR budget, never a 500 or a worker held for gunicorn's 30 s."""

from __future__ import annotations

import json
import re
import socketserver
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask

from service.workup.sessions import SessionStore, session_sealer
from service.workup.smart import SIGN_IN_MAX_BYTES
from tests.conftest import AppFactory
from tests.loopback import HOST, Answer, Misbehaviour, hostile_fhir, loopback_server, running, serve_app

BUDGET_S = 1.5  # CDS_FHIR_TOTAL_TIMEOUT_S for these apps; each read timeout (1 s) is never reached by a drip
SETTINGS = {"fhir_total_timeout_s": BUDGET_S, "fhir_read_timeout_s": 1.0}
# Bounded means seconds, not gunicorn's 30 s worker timeout (a drip of 1 B/s would hold a call for a day); the margin
# over BUDGET_S is for a loaded shared machine.
WELL_BELOW_30_S = 10.0
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
    assert took < WELL_BELOW_30_S and "Set-Cookie" not in page.headers  # far below gunicorn's 30 s


def test_endless_smart_configuration_is_cut_at_the_cap(app_factory: AppFactory) -> None:
    # About 200 KB/s arrive: the 256 KiB cap is reached in ~1.3 s, well inside this test's longer budget.
    with hostile_fhir(Misbehaviour.ENDLESS) as fhir:
        app = app_factory(fhir_server_allowlist=fhir.base_url, fhir_total_timeout_s=20.0, fhir_read_timeout_s=1.0)
        with serve_app(app) as url:
            page, took = _timed_get(f"{url}/workup/launch?launch=L1&iss={quote(fhir.base_url, safe='')}")
    assert page.status_code == 502 and _title(page) == "Sign-in service not found" and took < 20.0


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
    assert took < WELL_BELOW_30_S


def _page_with_session(app: Flask, iss: str) -> tuple[requests.Response, float]:
    """GET /workup/ with an authorised session for ``iss`` put straight into the app's (sealed) session table."""
    store = app.extensions["fasciculation_cds.store"]
    sealer = session_sealer(app.config["TEST_SESSION_KEY"])
    sessions = SessionStore(store.engine, store.guarded, 600, sealer=sealer)
    grant = {"iss": iss, "access_token": "t0k3n", "expires_at": time.time() + 600, "patient": "p1", "scope": ""}
    session_id = sessions.create({**grant, "app_context": None})
    with serve_app(app) as url:
        return _timed_get(f"{url}/workup/", cookies={"workup_session": session_id})


def _app_with_key(app_factory: AppFactory, fhir_base: str, **settings: object) -> Flask:
    key = Fernet.generate_key().decode()
    app = app_factory(fhir_server_allowlist=fhir_base, workup_session_key=key, **settings)
    app.config["TEST_SESSION_KEY"] = key
    return app


def test_a_slow_record_read_is_a_504_page(app_factory: AppFactory) -> None:
    with hostile_fhir(Misbehaviour.DRIP_BODY) as fhir:
        page, took = _page_with_session(_app_with_key(app_factory, fhir.base_url, **SETTINGS), fhir.base_url)
    assert page.status_code == 504 and _title(page) == "FHIR server too slow" and took < WELL_BELOW_30_S


class _NotFhir(socketserver.BaseRequestHandler):
    """Answers every request at once with 200 and a body that is not JSON."""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 9\r\n\r\nnot json!"
        )


def test_an_unusable_record_answer_is_a_502_page(app_factory: AppFactory) -> None:
    server = socketserver.ThreadingTCPServer((HOST, 0), _NotFhir)
    server.daemon_threads = True
    with running(server):
        base = f"http://{HOST}:{server.server_address[1]}/fhir"
        page, _ = _page_with_session(_app_with_key(app_factory, base, **SETTINGS), base)
    assert page.status_code == 502 and _title(page) == "FHIR server answer unusable"
