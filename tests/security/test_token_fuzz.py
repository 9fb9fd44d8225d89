"""Fuzzing the verifier with really signed tokens whose headers and claims are arbitrary JSON: the only outcomes
are success or Unauthorized (never another exception, which would be a 500)."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm

from cds_hooks import Unauthorized
from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache
from cds_hooks.jwks import parse_jwks
from cds_hooks.trusted_clients import TrustedClient
from tests.security.conftest import ISSUER, SERVICE_URL, b64, handmade, new_es384_key

KEY = new_es384_key()
AUTH = JwtAuthenticator([TrustedClient(ISSUER, jwks=parse_jwks({"keys": [KEY.jwk]}))], MemoryReplayCache())
SIGNER = ECAlgorithm(ECAlgorithm.SHA384)
NOW = int(time.time())  # centre of the fuzzed times only; no test relies on it being current

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
NUMBERS = st.one_of(st.integers(NOW - 7200, NOW + 7200), st.integers(), st.floats(allow_nan=False), JSON)
CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.one_of(st.just(ISSUER), JSON),
        "aud": st.one_of(st.just(SERVICE_URL), st.lists(st.sampled_from([SERVICE_URL, "x"])), JSON),
        "exp": NUMBERS,
        "iat": NUMBERS,
        "nbf": NUMBERS,
        "jti": st.one_of(st.uuids().map(str), st.text(max_size=300), JSON),
        "tenant": JSON,
    },
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "kid": st.one_of(st.just(KEY.kid), JSON),
        "typ": st.one_of(st.just("JWT"), JSON),
        "jku": st.one_of(st.just("http://127.0.0.1:1/jwks"), JSON),
        "crit": JSON,
        "x5u": JSON,
    },
)


def signed(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A compact JWS over exactly these header fields and claims, signed ES384 by KEY (by hand: PyJWT's encoder
    refuses some of these headers, and an attacker would not use it anyway)."""
    unsigned, signing_input = handmade({"alg": "ES384", **header}, payload)
    return unsigned + b64(SIGNER.sign(signing_input, KEY.private))


def test_the_hand_signer_makes_tokens_the_verifier_accepts() -> None:
    now = int(time.time())  # not the module's NOW: the suite may reach this test minutes after the import
    header = {"kid": KEY.kid, "typ": "JWT"}
    payload = {"iss": ISSUER, "aud": SERVICE_URL, "iat": now, "exp": now + 300, "jti": "hand-signed"}
    AUTH(f"Bearer {signed(header, payload)}", SERVICE_URL)


@settings(max_examples=200, deadline=None)
@given(payload=CLAIMS, header=HEADERS)
def test_signed_tokens_with_arbitrary_content(payload: dict[str, Any], header: dict[str, Any]) -> None:
    try:
        AUTH(f"Bearer {signed(header, payload)}", SERVICE_URL)
    except Unauthorized:
        return
    assert payload.get("iss") == ISSUER and isinstance(payload.get("jti"), str)
