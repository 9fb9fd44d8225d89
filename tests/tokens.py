"""Signing keys and client tokens as an EHR makes them (CDS Hooks 2.0 §Trusting CDS Clients), for every suite."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

TOKEN_LIFETIME_S = 300


@dataclass(frozen=True)
class SigningKey:
    """A private key, the algorithm it signs with, its kid and its public JWK."""

    alg: str
    kid: str
    private: Any = field(repr=False)
    jwk: dict[str, Any]

    def public_jwk(self, kid: str | None = None) -> dict[str, Any]:
        """The public JWK, under another kid if asked."""
        return {**self.jwk, "kid": kid or self.kid}


def new_key(alg: str = "ES384", kid: str | None = None) -> SigningKey:
    """A freshly generated key: P-384 for ES384, 2048-bit RSA for RS384."""
    private: Any
    if alg == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif alg == "RS384":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        raise ValueError(f"no test keys for {alg}")
    name = kid or f"{alg.lower()}-key"
    return SigningKey(alg, name, private, {**public, "kid": name, "use": "sig", "alg": alg})


def claims(issuer: str, audience: str, lifetime_s: int = TOKEN_LIFETIME_S, **overrides: Any) -> dict[str, Any]:
    """A valid claim set issued now with a fresh jti; ``None`` overrides drop a claim."""
    now = int(time.time())
    base: dict[str, Any] = {"iss": issuer, "aud": audience, "iat": now, "exp": now + lifetime_s}
    base.update({"jti": str(uuid.uuid4()), **overrides})
    return {k: v for k, v in base.items() if v is not None}


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    """A compact JWS signed by ``key`` (kid and typ set unless overridden; ``None`` drops a header)."""
    headers = {"kid": key.kid, "typ": "JWT", **header}
    kept = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(payload, key.private, algorithm=header.get("alg", key.alg), headers=kept)


def bearer(token: str) -> dict[str, str]:
    """Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def trusted_clients(issuer: str, key: SigningKey) -> dict[str, Any]:
    """A trusted-clients document trusting ``issuer`` with ``key``'s public JWK inline."""
    return {"clients": [{"iss": issuer, "jwks": {"keys": [key.public_jwk()]}}]}
