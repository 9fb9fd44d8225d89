"""JSON Web Key Sets: parsing (public asymmetric keys only) and a fetching cache with TTL and rate-limited refresh.

A JWKS URL is only ever fetched because the verifier asked for it, and the verifier only asks for URLs that a
trusted client's configuration names; redirects are not followed, so an allowed URL cannot bounce elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt import PyJWK, PyJWTError

from cds_hooks.deadline import read_capped
from cds_hooks.errors import Unauthorized

DEFAULT_JWKS_TTL_S = 3600.0
DEFAULT_JWKS_MIN_REFRESH_S = 60.0
DEFAULT_JWKS_CONNECT_TIMEOUT_S = 2.0
DEFAULT_JWKS_READ_TIMEOUT_S = 3.0
DEFAULT_JWKS_MAX_BYTES = 256 * 1024
ASYMMETRIC_KEY_TYPES = ("RSA", "EC")

PublicKey = RSAPublicKey | EllipticCurvePublicKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerificationKey:
    """One public key from a JWK Set, with the ``alg`` the JWK pins (if any)."""

    kid: str
    key: PublicKey = field(repr=False)
    alg: str | None = None


KeySet = Mapping[str, VerificationKey]


def _public(jwk: Mapping[str, Any]) -> PublicKey:
    key = PyJWK(dict(jwk)).key
    if isinstance(key, RSAPrivateKey | EllipticCurvePrivateKey):
        key = key.public_key()
    if not isinstance(key, RSAPublicKey | EllipticCurvePublicKey):
        raise ValueError("not an RSA or EC key")
    return key


def parse_jwks(document: Any) -> dict[str, VerificationKey]:
    """Public signing keys of a JWK Set by ``kid``; symmetric (``oct``), encryption and kid-less keys are dropped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWK Set is an object with a 'keys' list")
    keys: dict[str, VerificationKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("kty") not in ASYMMETRIC_KEY_TYPES:
            continue
        kid, use, alg = jwk.get("kid"), jwk.get("use", "sig"), jwk.get("alg")
        if not isinstance(kid, str) or not kid or use != "sig" or kid in keys:
            continue
        try:
            keys[kid] = VerificationKey(kid, _public(jwk), alg if isinstance(alg, str) else None)
        except (PyJWTError, ValueError, TypeError) as exc:
            log.warning("JWK %r ignored: %s", kid, type(exc).__name__)
    return keys


@dataclass(frozen=True)
class JwksSettings:
    """Limits and timings for fetching JWK Sets."""

    ttl_s: float = DEFAULT_JWKS_TTL_S
    min_refresh_s: float = DEFAULT_JWKS_MIN_REFRESH_S
    connect_timeout_s: float = DEFAULT_JWKS_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_JWKS_READ_TIMEOUT_S
    max_bytes: int = DEFAULT_JWKS_MAX_BYTES


@dataclass
class _Entry:
    keys: dict[str, VerificationKey] = field(default_factory=dict)
    fetched_at: float | None = None
    attempted_at: float | None = None
    failure: str | None = None  # why the last fetch failed (None after a success)


class JwksCache:
    """Fetches JWK Sets by URL, keeps them for ``ttl_s``, and refetches on an unknown kid at most every
    ``min_refresh_s`` (so a stream of made-up kids cannot turn the service into a request amplifier)."""

    def __init__(
        self,
        settings: JwksSettings | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or JwksSettings()
        self._session = session or requests.Session()
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def key(self, url: str, kid: str) -> VerificationKey:
        """The key ``kid`` of the JWK Set at ``url`` (fetching or refreshing as the policy allows)."""
        with self._lock:
            entry = self._entries.setdefault(url, _Entry())
            now = self._clock()
            fresh = entry.fetched_at is not None and now - entry.fetched_at < self.settings.ttl_s
            if fresh and kid in entry.keys:
                return entry.keys[kid]
            may_fetch = entry.attempted_at is None or now - entry.attempted_at >= self.settings.min_refresh_s
            if may_fetch:
                entry.attempted_at = now
                self._refresh(url, entry, now)
            if kid not in entry.keys:
                raise Unauthorized(self._refusal(url, kid, entry, fetched_now=may_fetch))
            return entry.keys[kid]

    @staticmethod
    def _refusal(url: str, kid: str, entry: _Entry, fetched_now: bool) -> str:
        """The real reason ``kid`` is not available: the fetch failed, or the fetched set lacks it."""
        if entry.failure is not None:
            when = "" if fetched_now else " (last attempt; not retried within the refresh interval)"
            return f"JWKS {url} could not be fetched{when}: {entry.failure}; kid {kid!r} not available"
        return f"unknown kid {kid!r} for JWKS {url}"

    def _refresh(self, url: str, entry: _Entry, now: float) -> None:
        try:
            entry.keys = parse_jwks(orjson.loads(self._download(url)))
            entry.fetched_at = now
            entry.failure = None
        except (requests.RequestException, orjson.JSONDecodeError, ValueError) as exc:
            # Keys already held stay usable until a fetch succeeds (a JWKS outage should not lock everyone out).
            entry.failure = type(exc).__name__ if isinstance(exc, requests.RequestException) else str(exc)
            log.warning("JWKS %s could not be fetched: %s", url, entry.failure)

    def _download(self, url: str) -> bytes:
        timeout = (self.settings.connect_timeout_s, self.settings.read_timeout_s)
        headers = {"Accept": "application/json, application/jwk-set+json"}
        with self._session.get(url, timeout=timeout, stream=True, allow_redirects=False, headers=headers) as rsp:
            if rsp.status_code != 200:
                raise ValueError(f"JWKS answered {rsp.status_code}")
            return read_capped(rsp, self.settings.max_bytes, ValueError("JWKS larger than the limit"))
