"""A service call with a JWT: the good token passes, every kind of bad token gets a bare 401."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask

from tests.security.conftest import (
    SigningKey,
    b64,
    bearer,
    build_app,
    claims,
    handmade,
    hook_body,
    sign,
)


def call(app: Flask, headers: dict[str, str] | None = None) -> tuple[int, object]:
    """POST a valid body to the echo service; (status, JSON body)."""
    rsp = app.test_client().post("/cds-services/echo", json=hook_body(), headers=headers or {})
    return rsp.status_code, rsp.get_json()


@pytest.mark.parametrize("key_name", ["es384", "rs384"])
def test_valid_token_is_accepted(app: Flask, key_name: str, request: pytest.FixtureRequest) -> None:
    key: SigningKey = request.getfixturevalue(key_name)
    status, body = call(app, bearer(sign(key, claims())))
    assert status == 200, body


def test_extra_claims_and_audience_list_are_accepted(app: Flask, es384: SigningKey) -> None:
    token = sign(
        es384,
        claims(
            aud=["https://other.example.org", "http://localhost/cds-services/echo"],
            sub="client-id",
            nbf=int(time.time()) - 5,
            tenant="hospital-1",
        ),
    )
    assert call(app, bearer(token))[0] == 200


def assert_bare_401(app: Flask, headers: dict[str, str] | None, caplog: pytest.LogCaptureFixture, why: str) -> None:
    """401, body exactly {"error": "unauthorized"}, the reason in the log, the token nowhere in the log."""
    with caplog.at_level(logging.INFO):
        status, body = call(app, headers)
    assert status == 401
    assert body == {"error": "unauthorized"}
    assert why in caplog.text
    token = (headers or {}).get("Authorization", "Bearer -").split(" ", 1)[1]
    for part in token.split("."):
        if len(part) > 8:
            assert part not in caplog.text


def test_missing_token(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    assert_bare_401(app, None, caplog, "no Authorization header")


def test_not_a_bearer_token(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    assert_bare_401(app, {"Authorization": "Basic dXNlcjpwYXNz"}, caplog, "not a Bearer")


def test_garbage_token(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    assert_bare_401(app, bearer("abc.def.ghi"), caplog, "malformed JWT header")


def test_alg_none(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    token, _ = handmade({"alg": "none", "typ": "JWT", "kid": "es384-key"}, claims())
    assert_bare_401(app, bearer(token), caplog, "alg 'none' is not accepted")


def test_hs256_signed_with_the_public_key(app: Flask, rs384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    # The classic key-confusion attack: the public key (PEM, as published) used as an HMAC secret.
    public_pem = rs384.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token, signing_input = handmade({"alg": "HS256", "typ": "JWT", "kid": rs384.kid}, claims())
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    assert_bare_401(app, bearer(token.rsplit(".", 1)[0] + "." + b64(mac)), caplog, "alg 'HS256' is not accepted")


def test_alg_swapped_to_match_another_key_type(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    # An ES384 signature presented under the RSA key's kid must not verify.
    token = sign(es384, claims(), kid="rs384-key")
    assert_bare_401(app, bearer(token), caplog, "pinned to RS384")


def test_unknown_kid(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    assert_bare_401(app, bearer(sign(es384, claims(), kid="nobody")), caplog, "unknown kid 'nobody'")


def test_missing_kid(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    assert_bare_401(app, bearer(sign(es384, claims(), kid=None)), caplog, "no kid")


def test_wrong_typ(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    assert_bare_401(app, bearer(sign(es384, claims(), typ="at+jwt")), caplog, "typ is not JWT")


def test_wrong_audience(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    token = sign(es384, claims(audience="http://localhost/cds-services/other"))
    assert_bare_401(app, bearer(token), caplog, "InvalidAudienceError")


def test_expired(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time())
    token = sign(es384, claims(iat=now - 900, exp=now - 120))
    assert_bare_401(app, bearer(token), caplog, "ExpiredSignatureError")


def test_expired_within_leeway_passes(app: Flask, es384: SigningKey) -> None:
    now = int(time.time())
    assert call(app, bearer(sign(es384, claims(iat=now - 300, exp=now - 30))))[0] == 200


def test_issued_in_the_future(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time())
    token = sign(es384, claims(iat=now + 600, exp=now + 900))
    assert_bare_401(app, bearer(token), caplog, "ImmatureSignatureError")


def test_absurd_lifetime(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time())
    token = sign(es384, claims(iat=now, exp=now + 7 * 24 * 3600))
    assert_bare_401(app, bearer(token), caplog, "lifetime")


def test_untrusted_issuer(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    token = sign(es384, claims(iss="https://evil.example.org"))
    assert_bare_401(app, bearer(token), caplog, "iss is not a trusted client")


@pytest.mark.parametrize("claim", ["jti", "iat", "exp", "aud"])
def test_missing_required_claim(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture, claim: str) -> None:
    dropped: dict[str, Any] = {claim: None}
    token = sign(es384, claims(**dropped))
    assert_bare_401(app, bearer(token), caplog, "MissingRequiredClaimError")


def test_replayed_jti(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    token = sign(es384, claims(jti="once-only"))
    assert call(app, bearer(token))[0] == 200
    assert_bare_401(app, bearer(token), caplog, "already used")


def test_same_jti_from_another_token_is_a_replay(app: Flask, es384: SigningKey, rs384: SigningKey) -> None:
    assert call(app, bearer(sign(es384, claims(jti="shared"))))[0] == 200
    assert call(app, bearer(sign(rs384, claims(jti="shared"))))[0] == 401


def test_tampered_payload(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    header, _, signature = sign(es384, claims()).split(".")
    _, forged_input = handmade({}, claims(tenant="someone-else"))
    forged = f"{header}.{forged_input.decode().split('.')[1]}.{signature}"
    assert_bare_401(app, bearer(forged), caplog, "InvalidSignatureError")


def test_oversized_token(app: Flask, es384: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    token = sign(es384, claims(padding="x" * 20_000))
    assert_bare_401(app, bearer(token), caplog, "acceptable size")


def test_discovery_is_open_by_default(app: Flask) -> None:
    assert app.test_client().get("/cds-services").status_code == 200


def test_discovery_can_require_auth(authenticator: object, es384: SigningKey) -> None:
    app = build_app(authenticator, discovery_requires_auth=True)
    client = app.test_client()
    assert client.get("/cds-services").status_code == 401
    token = sign(es384, claims(audience="http://localhost/cds-services"))
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200


def test_audience_is_the_public_url_behind_a_proxy(authenticator: object, es384: SigningKey) -> None:
    app = build_app(authenticator, public_url="https://cds.example.org/base/")
    client = app.test_client()
    internal = sign(es384, claims())
    assert client.post("/cds-services/echo", json=hook_body(), headers=bearer(internal)).status_code == 401
    public = sign(es384, claims(audience="https://cds.example.org/base/cds-services/echo"))
    assert client.post("/cds-services/echo", json=hook_body(), headers=bearer(public)).status_code == 200


def test_the_401_comes_before_the_body_is_read(app: Flask) -> None:
    rsp = app.test_client().post("/cds-services/echo", data=b"{not json", content_type="application/json")
    assert rsp.status_code == 401
