"""POST bodies must say they are JSON (issue 23 row 12): a body a web page can send cross-site without a CORS
preflight (text/plain, a form) is refused with a JSON 415; the preflight and the Sandbox's own calls are unaffected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cds_hooks.blueprint import is_json_media_type
from tests.conftest import ROOT, service_app
from tests.loopback import serve_app

SERVICE = "/cds-services/fasciculation-reversible-causes"
SANDBOX = ROOT / "fixtures" / "cds-hooks-sandbox"
ORIGIN = {"Origin": "https://evil.example"}
# The Sandbox posts an object body with axios (its service-exchange.js): axios 0.x sends this, 1.x application/json.
SANDBOX_TYPE = "application/json;charset=utf-8"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The real app, auth off and CORS "*" (the development defaults the probe used), on a loopback socket."""
    with service_app(tmp_path) as app, serve_app(app) as url:
        yield url


def _call_body() -> bytes:
    return (ROOT / "fixtures" / "requests" / "patient-view" / "magnesium_first.json").read_bytes()


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "text/json",
    ],
)
def test_a_body_not_said_to_be_json_is_415_with_a_json_error(served: str, content_type: str | None) -> None:
    headers = {**ORIGIN, **({"Content-Type": content_type} if content_type else {})}
    for path in (SERVICE, f"{SERVICE}/feedback"):
        answer = requests.post(f"{served}{path}", data=_call_body(), headers=headers, timeout=10)
        assert answer.status_code == 415, (path, content_type, answer.text)
        assert answer.json()["error"] == "unsupported_media_type"
        assert "cards" not in answer.text


@pytest.mark.parametrize(
    "content_type", ["application/json", SANDBOX_TYPE, "application/fhir+json", "APPLICATION/JSON"]
)
def test_json_types_are_served(served: str, content_type: str) -> None:
    answer = requests.post(f"{served}{SERVICE}", data=_call_body(), headers={"Content-Type": content_type}, timeout=10)
    assert answer.status_code == 200 and "cards" in answer.json()


def test_preflight_is_unaffected(served: str) -> None:
    preflight = {**ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    answer = requests.options(f"{served}{SERVICE}", headers=preflight, timeout=10)
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"


def test_captured_sandbox_calls_pass_with_the_sandboxs_content_type(served: str) -> None:
    # tests/interop replays every capture with this header and the Sandbox's tokens; here, auth off, the call itself.
    body = json.loads((SANDBOX / "patient-view.json").read_bytes())
    body.pop("fhirServer", None), body.pop("fhirAuthorization", None)  # prefetch is complete: nothing to fetch
    headers = {"Content-Type": SANDBOX_TYPE, "Accept": "application/json"}
    answer = requests.post(f"{served}{SERVICE}", data=json.dumps(body), headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def test_media_type_rule() -> None:
    assert is_json_media_type("application/json") and is_json_media_type("application/cds-hooks+json")
    assert not any(is_json_media_type(t) for t in ("", "text/plain", "application/json5", "json", "/+json"))
