"""Hostile bodies: over the size limit (413), deeply nested, huge bundles, and fuzzing; never a 5xx."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server

from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache
from cds_hooks.jwks import parse_jwks
from cds_hooks.trusted_clients import TrustedClient
from tests.loopback import running
from tests.security.conftest import ISSUER, SigningKey, bearer, build_app, claims, hook_body, new_es384_key, sign

LIMIT = 64 * 1024
PREFETCH = {"patient": "Patient/{{context.patientId}}", "labs": "Observation?patient={{context.patientId}}"}


def test_oversized_body_is_413_json_with_cors() -> None:
    client = build_app(max_body=LIMIT).test_client()
    body = hook_body(prefetch={"patient": {"resourceType": "Patient", "id": "p1", "text": "x" * LIMIT}})
    rsp = client.post("/cds-services/echo", json=body, headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert rsp.status_code == 413
    assert rsp.is_json and rsp.get_json()["error"]
    assert rsp.headers["Access-Control-Allow-Origin"] == "*"


def test_oversized_body_with_a_valid_token_is_413(authenticator: Any, es384: SigningKey) -> None:
    client = build_app(authenticator, max_body=LIMIT).test_client()
    body = hook_body(prefetch={"patient": {"resourceType": "Patient", "id": "p1", "text": "x" * LIMIT}})
    assert client.post("/cds-services/echo", json=body, headers=bearer(sign(es384, claims()))).status_code == 413


@pytest.fixture
def served_app() -> Iterator[int]:
    """The toolkit app on a real loopback socket (werkzeug), yielding its port."""
    with running(make_server("127.0.0.1", 0, build_app(max_body=LIMIT), threaded=True)) as server:
        yield server.server_address[1]


def test_chunked_body_without_length_is_cut_at_the_limit(served_app: int) -> None:
    chunk = b"[" + b"1," * 8000
    request = (
        b"POST /cds-services/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", served_app), timeout=5) as sock:
        sock.sendall(request)
        try:
            for _ in range(2 * LIMIT // len(chunk) + 2):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading once it has answered
        status_line = sock.makefile("rb").readline()
    assert b" 413 " in status_line


@pytest.mark.parametrize("depth", [200, 1100, 100_000])
def test_deeply_nested_json_is_4xx_or_200(depth: int) -> None:
    client = build_app(max_body=10 * 1024 * 1024).test_client()
    nested = b"[" * depth + b"]" * depth
    raw = client.post("/cds-services/echo", data=nested, content_type="application/json")
    assert raw.status_code == 400
    inner = '{"a":' * depth + "1" + "}" * depth
    body = '{"hook":"patient-view","hookInstance":"x1","context":{"userId":"Practitioner/1","patientId":"p1"},'
    body += f'"prefetch":{{"patient":{inner}}}}}'
    rsp = client.post("/cds-services/echo", data=body, content_type="application/json")
    assert rsp.status_code < 500


def test_huge_prefetch_bundle_is_not_a_5xx() -> None:
    client = build_app(max_body=10 * 1024 * 1024, prefetch=PREFETCH).test_client()
    entries = [{"resource": {"resourceType": "Observation", "id": f"o{i}", "status": "final"}} for i in range(60_000)]
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    body = hook_body(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}, "labs": bundle})
    assert client.post("/cds-services/echo", json=body).status_code == 200


# ---- fuzzing -------------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(["patient-view", "order-sign", "Practitioner/1", "p1", ""]))
URLS = st.one_of(st.text(max_size=30), st.sampled_from(["http://127.0.0.1:1/fhir", "https://x.org/fhir", "ftp://a"]))
HOOK_BODIES = st.fixed_dictionaries(
    {
        "hook": st.one_of(TEXT, JSON),
        "context": st.one_of(JSON, st.fixed_dictionaries({"userId": TEXT, "patientId": TEXT})),
    },
    optional={
        "hookInstance": st.one_of(st.uuids().map(str), TEXT, JSON),
        "fhirServer": st.one_of(URLS, JSON),
        "fhirAuthorization": st.one_of(JSON, st.fixed_dictionaries({"access_token": TEXT, "token_type": TEXT})),
        "prefetch": st.one_of(JSON, st.dictionaries(st.sampled_from(["patient", "labs", "x"]), JSON, max_size=3)),
        "extension": JSON,
    },
)
FEEDBACK = st.fixed_dictionaries(
    {
        "feedback": st.one_of(
            JSON,
            st.lists(
                st.dictionaries(
                    st.sampled_from(["card", "outcome", "outcomeTimestamp", "acceptedSuggestions", "overrideReason"]),
                    JSON,
                    max_size=5,
                ),
                max_size=3,
            ),
        )
    }
)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fuzz_app() -> Flask:
    """The toolkit app with prefetch templates, a feedback sink, and an allow-list that admits no FHIR server."""
    return build_app(allow_list="", prefetch=PREFETCH, feedback_sink=lambda service_id, items: {"stored": len(items)})


FUZZ_CLIENT = fuzz_app().test_client()


def assert_not_5xx(path: str, **kwargs: Any) -> None:
    """POST and check the answer is a JSON non-5xx."""
    rsp = FUZZ_CLIENT.post(path, **kwargs)
    assert rsp.status_code < 500, (rsp.status_code, rsp.get_data()[:300])
    assert rsp.is_json


@FUZZ
@given(body=HOOK_BODIES)
def test_fuzz_hook_calls(body: dict[str, Any]) -> None:
    assert_not_5xx("/cds-services/echo", json=body)


@FUZZ
@given(body=JSON)
def test_fuzz_any_json(body: Any) -> None:
    assert_not_5xx("/cds-services/echo", json=body)
    assert_not_5xx("/cds-services/echo/feedback", json=body)


@FUZZ
@given(body=FEEDBACK)
def test_fuzz_feedback(body: dict[str, Any]) -> None:
    assert_not_5xx("/cds-services/echo/feedback", json=body)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/plain", "", "a/b; x"]))
def test_fuzz_raw_bytes(raw: bytes, content_type: str) -> None:
    assert_not_5xx("/cds-services/echo", data=raw, content_type=content_type)


AUTH_CLIENT = build_app(
    JwtAuthenticator([TrustedClient(ISSUER, jwks=parse_jwks({"keys": [new_es384_key().jwk]}))], MemoryReplayCache())
).test_client()


@settings(max_examples=100, deadline=None)
@given(header=st.text(max_size=200), service_id=st.text(min_size=1, max_size=20))
def test_fuzz_authorization_header_and_path(header: str, service_id: str) -> None:
    try:
        rsp = AUTH_CLIENT.post(f"/cds-services/{service_id}", json=hook_body(), headers={"Authorization": header})
    except ValueError:
        return  # werkzeug's test client refuses header values with newlines before anything is sent
    assert rsp.status_code < 500
    assert rsp.status_code != 200
