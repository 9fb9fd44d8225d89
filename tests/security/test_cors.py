"""CORS (CDS Hooks 2.0 §CORS): browser clients such as the CDS Hooks Sandbox can call, and read errors."""

from __future__ import annotations

from flask import Flask

from tests.security.conftest import build_app, hook_body

SANDBOX = "https://sandbox.cds-hooks.org"
PREFLIGHT = {
    "Origin": SANDBOX,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_preflight_is_answered_without_a_token(app: Flask) -> None:
    rsp = app.test_client().options("/cds-services/echo", headers=PREFLIGHT)
    assert rsp.status_code == 200
    assert rsp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in rsp.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in rsp.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed


def test_preflight_of_discovery_and_feedback(app: Flask) -> None:
    client = app.test_client()
    for path in ("/cds-services", "/cds-services/echo/feedback"):
        rsp = client.options(path, headers=PREFLIGHT)
        assert rsp.status_code < 300, path
        assert rsp.headers["Access-Control-Allow-Origin"] == "*"


def test_401_carries_cors_headers(app: Flask) -> None:
    rsp = app.test_client().post("/cds-services/echo", json=hook_body(), headers={"Origin": SANDBOX})
    assert rsp.status_code == 401
    assert rsp.headers["Access-Control-Allow-Origin"] == "*"
    assert rsp.get_json() == {"error": "unauthorized"}


def test_400_and_404_carry_cors_headers() -> None:
    client = build_app().test_client()
    bad = client.post("/cds-services/echo", json={"hook": "patient-view"}, headers={"Origin": SANDBOX})
    assert bad.status_code == 400 and bad.headers["Access-Control-Allow-Origin"] == "*"
    missing = client.post("/cds-services/nope", json=hook_body(), headers={"Origin": SANDBOX})
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"


def test_configured_origins_are_echoed_and_others_get_nothing() -> None:
    client = build_app(cors_origins=(SANDBOX, "https://ehr.example.org")).test_client()
    allowed = client.options("/cds-services/echo", headers=PREFLIGHT)
    assert allowed.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert "Origin" in allowed.headers.get("Vary", "")
    other = client.options("/cds-services/echo", headers={**PREFLIGHT, "Origin": "https://evil.example.org"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Headers" not in other.headers


def test_no_origin_no_cors_headers() -> None:
    rsp = build_app().test_client().get("/cds-services")
    assert "Access-Control-Allow-Origin" not in rsp.headers


def test_wildcard_never_claims_credentials() -> None:
    rsp = build_app().test_client().options("/cds-services/echo", headers=PREFLIGHT)
    assert rsp.headers.get("Access-Control-Allow-Credentials") is None
