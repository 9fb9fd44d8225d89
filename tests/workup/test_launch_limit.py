"""Launches are rate-limited per client address (issue 23 row 8): past the limit ``/workup/launch`` answers 429 with
``Retry-After`` before writing a row or calling the FHIR server; the table of addresses stays bounded."""

from __future__ import annotations

from urllib.parse import quote

import requests

from service.workup.launch_limit import LaunchLimiter, client_key
from tests.conftest import AppFactory
from tests.loopback import Answer, loopback_server, serve_app


def _session_rows(app: object) -> int:
    engine = app.extensions["fasciculation_cds.store"].engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM workup_session").scalar())


def test_launches_past_the_limit_are_429_with_retry_after_and_cost_nothing(app_factory: AppFactory) -> None:
    with loopback_server("/fhir") as fhir:
        endpoints = {"authorization_endpoint": f"{fhir.base_url}/authorize", "token_endpoint": f"{fhir.base_url}/t"}
        fhir.route("/.well-known/smart-configuration", Answer(endpoints, content_type="application/json"))
        app = app_factory(fhir_server_allowlist=fhir.base_url, workup_launch_limit=5, workup_launch_window_s=60)
        launch = f"/workup/launch?launch=L1&iss={quote(fhir.base_url, safe='')}"
        with serve_app(app) as url, requests.Session() as browser:
            answers = [browser.get(url + launch, timeout=10, allow_redirects=False) for _ in range(8)]
        assert [a.status_code for a in answers] == [302] * 5 + [429] * 3
        refused = answers[-1]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60 and "Too many launches" in refused.text
        assert refused.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert fhir.total == 5 and _session_rows(app) == 5  # the refused launches wrote nothing and called nobody


def test_windows_end_and_the_table_is_bounded() -> None:
    now = [0.0]
    limiter = LaunchLimiter(limit=2, window_s=10, max_addresses=100, clock=lambda: now[0])
    assert [limiter.retry_after("192.0.2.1") for _ in range(3)] == [None, None, 10]
    now[0] = 4.2
    assert limiter.retry_after("192.0.2.1") == 6 and limiter.retry_after("192.0.2.2") is None
    now[0] = 10.5
    assert limiter.retry_after("192.0.2.1") is None  # a new window
    for n in range(1000):
        limiter.retry_after(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) <= 100


def test_ipv6_is_counted_per_64_and_the_limit_can_be_off() -> None:
    limiter = LaunchLimiter(limit=1, window_s=60, max_addresses=10)
    assert limiter.retry_after("2001:db8:1:2::1") is None
    assert limiter.retry_after("2001:db8:1:2:ffff::9") is not None  # same /64: the same count
    assert limiter.retry_after("2001:db8:1:3::1") is None
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7" and client_key(None) == "-"
    off = LaunchLimiter(limit=0, window_s=60, max_addresses=10)
    assert all(off.retry_after("192.0.2.1") is None for _ in range(50))
