"""SMART Backend Services (client_credentials with a ``private_key_jwt`` assertion) for a Bulk Data export.

The token endpoint comes from the server's ``.well-known/smart-configuration``; the assertion is signed with PyJWT
(RS384 or ES384, as SMART Backend Services names) and lives five minutes; the token is reused until shortly before
it expires. Neither the key, the assertion nor the token is ever logged.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import orjson
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from cds_hooks.urls import ServerAllowList
from service.cohort.errors import CohortError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300
REFRESH_MARGIN_S = 30


@dataclass
class BackendServicesToken:
    """A token source for one server: fetches a token with a signed assertion, again when it is about to expire."""

    base: str
    client_id: str
    key_path: Path
    key_id: str
    scope: str
    allow_list: ServerAllowList
    timeout_s: float = 10.0
    session: requests.Session = field(default_factory=requests.Session)
    _token: str | None = None
    _expires: float = 0.0

    def __call__(self) -> str | None:
        """A valid access token."""
        if self._token is None or time.time() > self._expires - REFRESH_MARGIN_S:
            self._token, lifetime = self._fetch()
            self._expires = time.time() + lifetime
        return self._token

    def token_endpoint(self) -> str:
        """``token_endpoint`` of the server's SMART configuration (it must be allowed too)."""
        url = f"{self.base.rstrip('/')}/.well-known/smart-configuration"
        rsp = self.session.get(url, headers={"Accept": "application/json"}, timeout=self.timeout_s)
        endpoint = orjson.loads(rsp.content).get("token_endpoint") if rsp.status_code == 200 else None
        if not isinstance(endpoint, str) or not self.allow_list.permits(endpoint.rsplit("/", 1)[0]):
            raise CohortError("the server's SMART configuration names no allowed token_endpoint")
        return endpoint

    def assertion(self, endpoint: str) -> str:
        """The signed client assertion (iss = sub = client id, aud = token endpoint, five minutes, one-time jti)."""
        key = load_pem_private_key(self.key_path.read_bytes(), password=None)
        algorithm = "ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS384"
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": endpoint,
            "exp": now + ASSERTION_LIFETIME_S,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": self.key_id, "typ": "JWT"})  # type: ignore[arg-type]

    def _fetch(self) -> tuple[str, float]:
        endpoint = self.token_endpoint()
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(endpoint),
        }
        rsp = self.session.post(endpoint, data=form, headers={"Accept": "application/json"}, timeout=self.timeout_s)
        body = orjson.loads(rsp.content) if rsp.content else {}
        token = body.get("access_token") if rsp.status_code == 200 and isinstance(body, dict) else None
        if not isinstance(token, str):
            raise CohortError(f"the token endpoint refused the client ({rsp.status_code})")
        return token, float(body.get("expires_in") or ASSERTION_LIFETIME_S)
