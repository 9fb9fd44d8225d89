"""Real keys, a real JWKS server on loopback, signed tokens, and a toolkit-only app with JWT auth switched on."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from cds_hooks import HookRequest, Prefetched, ServerAllowList, ServiceDefinition
from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache
from cds_hooks.jwks import JwksCache
from cds_hooks.trusted_clients import TrustedClient
from tests.conftest import hook_body as hook_body
from tests.conftest import toolkit_app
from tests.loopback import Loopback, loopback_server
from tests.tokens import SigningKey as SigningKey
from tests.tokens import bearer as bearer
from tests.tokens import claims as issued_claims
from tests.tokens import new_key
from tests.tokens import sign as sign

ISSUER = "https://ehr.example.org"
PUBLIC_BASE = "http://localhost"
SERVICE_URL = f"{PUBLIC_BASE}/cds-services/echo"
JWKS_PATH = "/.well-known/jwks.json"


def new_es384_key() -> SigningKey:
    """A freshly generated P-384 signing key."""
    return new_key("ES384")


@pytest.fixture(scope="session")
def es384() -> SigningKey:
    """A fresh P-384 key signing ES384."""
    return new_es384_key()


@pytest.fixture(scope="session")
def rs384() -> SigningKey:
    """A fresh 2048-bit RSA key signing RS384."""
    return new_key("RS384")


def claims(audience: str = SERVICE_URL, **overrides: Any) -> dict[str, Any]:
    """A valid claim set from ISSUER (5 minute lifetime, fresh jti); ``None`` overrides drop a claim."""
    return issued_claims(ISSUER, audience, **overrides)


def b64(data: bytes) -> str:
    """base64url without padding (JWS encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> tuple[str, bytes]:
    """A JWS assembled by hand (for tokens no honest library would make); returns it and its signing input."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(signature)}", signing_input.encode()


def echo(request: HookRequest, prefetched: Prefetched) -> dict[str, Any]:
    """A trivial handler: one info card."""
    return {"cards": [{"summary": "ok", "indicator": "info", "source": {"label": "security test"}}]}


def build_app(
    authenticator: Any = None, allow_list: str | None = "", max_body: int = 10 * 1024 * 1024, **options: Any
) -> Flask:
    """A toolkit-only app with service ``echo`` (patient-view), the given auth, allow-list and body limit.

    With auth on, tokens are for ``SERVICE_URL``'s base unless ``public_url`` says otherwise (never the Host header).
    """
    if authenticator is not None:
        options.setdefault("public_url", PUBLIC_BASE)
    definition = ServiceDefinition("echo", "patient-view", "Echo", "Answers ok.", echo, options.pop("prefetch", {}))
    allowed = ServerAllowList.parse(allow_list)
    return toolkit_app(definition, allowed, max_pages=2, max_body=max_body, authenticator=authenticator, **options)


@pytest.fixture
def jwks_server(es384: SigningKey, rs384: SigningKey) -> Iterator[Loopback]:
    """A loopback server publishing both public keys at /.well-known/jwks.json."""
    with loopback_server() as server:
        server.routes[JWKS_PATH] = {"keys": [es384.jwk, rs384.jwk]}
        yield server


@pytest.fixture
def authenticator(jwks_server: Loopback) -> JwtAuthenticator:
    """JWT auth trusting ISSUER, whose keys are at the loopback JWKS URL."""
    client = TrustedClient(ISSUER, jwks_url=jwks_server.url(JWKS_PATH))
    return JwtAuthenticator([client], MemoryReplayCache(), JwksCache())


@pytest.fixture
def app(authenticator: JwtAuthenticator) -> Flask:
    """The toolkit app with JWT auth on."""
    return build_app(authenticator)
