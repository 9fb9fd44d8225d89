"""Real keys, a real JWKS server on loopback, signed tokens, and a toolkit-only app with JWT auth switched on."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_hooks import HookRequest, Prefetched, ServerAllowList, ServiceDefinition
from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache
from cds_hooks.jwks import JwksCache
from cds_hooks.trusted_clients import TrustedClient
from tests.conftest import hook_body as hook_body
from tests.conftest import toolkit_app
from tests.loopback import Loopback, loopback_server

ISSUER = "https://ehr.example.org"
SERVICE_URL = "http://localhost/cds-services/echo"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class SigningKey:
    """A private key, the algorithm it signs with, its kid and its public JWK."""

    alg: str
    kid: str
    private: Any
    jwk: dict[str, Any]


def new_es384_key() -> SigningKey:
    """A freshly generated P-384 signing key."""
    private = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return SigningKey("ES384", "es384-key", private, {**jwk, "kid": "es384-key", "use": "sig", "alg": "ES384"})


def new_rs384_key() -> SigningKey:
    """A freshly generated 2048-bit RSA signing key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return SigningKey("RS384", "rs384-key", private, {**jwk, "kid": "rs384-key", "use": "sig", "alg": "RS384"})


@pytest.fixture(scope="session")
def es384() -> SigningKey:
    """A fresh P-384 key signing ES384."""
    return new_es384_key()


@pytest.fixture(scope="session")
def rs384() -> SigningKey:
    """A fresh 2048-bit RSA key signing RS384."""
    return new_rs384_key()


def claims(audience: str = SERVICE_URL, **overrides: Any) -> dict[str, Any]:
    """A valid claim set (5 minute lifetime, fresh jti); ``None`` overrides drop a claim."""
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    """A compact JWS signed by ``key`` (kid and typ set unless overridden; ``None`` drops a header)."""
    headers = {"kid": key.kid, "typ": "JWT", **header}
    kept = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(payload, key.private, algorithm=header.get("alg", key.alg), headers=kept)


def b64(data: bytes) -> str:
    """base64url without padding (JWS encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> tuple[str, bytes]:
    """A JWS assembled by hand (for tokens no honest library would make); returns it and its signing input."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(signature)}", signing_input.encode()


def bearer(token: str) -> dict[str, str]:
    """Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def echo(request: HookRequest, prefetched: Prefetched) -> dict[str, Any]:
    """A trivial handler: one info card."""
    return {"cards": [{"summary": "ok", "indicator": "info", "source": {"label": "security test"}}]}


def build_app(
    authenticator: Any = None, allow_list: str | None = "", max_body: int = 10 * 1024 * 1024, **options: Any
) -> Flask:
    """A toolkit-only app with service ``echo`` (patient-view), the given auth, allow-list and body limit."""
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
