"""JWT client authentication (CDS Hooks 2.0 §Trusting CDS Clients): trusted issuers, JWKS, aud, exp, jti replay.

Checks, in the best-practice order: bearer token present and small; header ``typ`` JWT, ``alg`` asymmetric and
allowed (never ``none`` nor HMAC), ``kid`` present; ``iss`` a trusted client; the key ``kid`` names, looked up
first among the keys configured for that client (inline ``jwks`` or its ``jwks_url`` set) whatever ``jku`` the
token names, and only when it is not there in the ``jku`` set - fetched only when that ``jku`` is on the
client's allow-list, never otherwise; the signature; ``aud`` the endpoint; ``exp``,
``iat`` (60 s leeway) and a lifetime of at most an hour; ``jti`` never seen before. Any failure raises
``Unauthorized`` whose reason is logged by the blueprint, never sent, and never quotes the token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, SECP384R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from cds_hooks.errors import Unauthorized
from cds_hooks.jwks import JwksCache, VerificationKey
from cds_hooks.trusted_clients import TrustedClient

# CDS Hooks 2.0 §JWT Signing Algorithm: ES384 and RS384 recommended; never "none", never symmetric.
ALLOWED_ALGORITHMS = ("ES384", "RS384", "ES256", "RS256")
DEFAULT_LEEWAY_S = 60
# Best practice: a jti is remembered for the token's lifetime, "no more than an hour" - longer tokens are refused.
DEFAULT_MAX_LIFETIME_S = 3600
DEFAULT_MAX_TOKEN_BYTES = 16 * 1024
MAX_JTI_CHARS = 256
MIN_RSA_BITS = 2048
_EC_CURVES = {"ES256": SECP256R1, "ES384": SECP384R1}

log = logging.getLogger(__name__)


class ReplayCache(Protocol):
    """Remembers (issuer, jti) pairs until they expire."""

    def remember(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """True when the pair is new (and is now remembered), False when it was seen before."""
        ...


class MemoryReplayCache:
    """A per-process ReplayCache (tests, single-process development); production uses the database."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def remember(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """True when new; expired pairs are forgotten on the way."""
        now = self._clock()
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if (issuer, jti) in self._seen:
                return False
            self._seen[(issuer, jti)] = expires_at
            return True


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must satisfy beyond its signature."""

    algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS
    leeway_s: int = DEFAULT_LEEWAY_S
    max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES


def bearer_token(authorization: str | None, max_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization is not a Bearer token")
    if len(token) > max_bytes or token.count(".") != 2:
        raise Unauthorized("bearer token is not a compact JWS of acceptable size")
    return token


def _checked_header(token: str, policy: TokenPolicy) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"malformed JWT header ({type(exc).__name__})") from exc
    alg = header.get("alg")
    if alg not in policy.algorithms:
        raise Unauthorized(f"JWT alg {alg!r} is not accepted")
    if str(header.get("typ", "")).upper() != "JWT":
        raise Unauthorized("JWT typ is not JWT")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise Unauthorized("JWT has no kid")
    if "jku" in header and not isinstance(header["jku"], str):
        raise Unauthorized("JWT jku is not a string")
    if header.get("crit"):
        raise Unauthorized("JWT carries critical extensions")
    return header


def _unverified_issuer(token: str) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"malformed JWT payload ({type(exc).__name__})") from exc
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise Unauthorized("JWT has no iss")
    return iss


def _check_key_fits(alg: str, key: VerificationKey) -> None:
    if key.alg is not None and key.alg != alg:
        raise Unauthorized(f"key {key.kid!r} is pinned to {key.alg}, token says {alg}")
    if alg.startswith("RS"):
        if not isinstance(key.key, RSAPublicKey) or key.key.key_size < MIN_RSA_BITS:
            raise Unauthorized(f"key {key.kid!r} is not an RSA key of at least {MIN_RSA_BITS} bits")
    elif not isinstance(key.key, EllipticCurvePublicKey) or not isinstance(key.key.curve, _EC_CURVES[alg]):
        raise Unauthorized(f"key {key.kid!r} is not an EC key on the curve {alg} needs")


class JwtAuthenticator:
    """An ``Authenticator`` for the blueprint: ``authenticator(authorization_header, audiences)`` or Unauthorized."""

    def __init__(
        self,
        clients: Sequence[TrustedClient],
        replay_cache: ReplayCache,
        jwks_cache: JwksCache | None = None,
        policy: TokenPolicy | None = None,
    ) -> None:
        self.clients: Mapping[str, TrustedClient] = {c.iss: c for c in clients}
        self.replay_cache = replay_cache
        self.jwks_cache = jwks_cache or JwksCache()
        self.policy = policy or TokenPolicy()
        for alg in self.policy.algorithms:
            if alg not in ALLOWED_ALGORITHMS:
                raise ValueError(f"algorithm {alg} is not an accepted asymmetric algorithm")

    def __call__(self, authorization: str | None, audience: str | Sequence[str]) -> None:
        """Verify the bearer JWT for ``audience`` (one URL, or any of several; raises Unauthorized)."""
        if not audience:
            raise Unauthorized("no accepted audience is configured")
        token = bearer_token(authorization, self.policy.max_token_bytes)
        header = _checked_header(token, self.policy)
        client = self.clients.get(_unverified_issuer(token))
        if client is None:
            raise Unauthorized("JWT iss is not a trusted client")
        key = self._key(client, header)
        _check_key_fits(header["alg"], key)
        claims = self._verified_claims(token, key, header["alg"], client.iss, audience)
        self._check_replay(client.iss, claims)
        log.info("authenticated iss=%r jti=%r tenant=%r", client.iss, claims["jti"], claims.get("tenant"))

    def _key(self, client: TrustedClient, header: Mapping[str, Any]) -> VerificationKey:
        """Configured keys first (whatever ``jku`` says); a ``jku`` is fetched only when listed and ``kid`` unknown."""
        kid: str = header["kid"]
        jku = header.get("jku")
        configured, refusal = self._configured_key(client, kid)
        if configured is not None:
            return configured
        if jku is None or jku == client.jwks_url:
            raise Unauthorized(refusal)
        if not client.allows_jku(jku):
            raise Unauthorized(f"{refusal}; jku {jku!r} is not on the allow-list of {client.iss} (not fetched)")
        return self.jwks_cache.key(jku, kid)

    def _configured_key(self, client: TrustedClient, kid: str) -> tuple[VerificationKey | None, str]:
        """The key ``kid`` among the keys exchanged out of band (inline or ``jwks_url``), or why it is not there."""
        if client.jwks is not None:
            if kid in client.jwks:
                return client.jwks[kid], ""
            return None, f"unknown kid {kid!r} in the configured keys of {client.iss}"
        if client.jwks_url is None:
            return None, f"no keys configured for {client.iss}"
        try:
            return self.jwks_cache.key(client.jwks_url, kid), ""
        except Unauthorized as exc:
            return None, exc.message

    def _verified_claims(
        self, token: str, key: VerificationKey, alg: str, iss: str, audience: str | Sequence[str]
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=self.policy.leeway_s,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "enforce_minimum_key_length": True},
            )
        except jwt.DecodeError as exc:
            raise Unauthorized(f"JWT rejected: {type(exc).__name__}") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"JWT rejected: {type(exc).__name__}: {exc}") from exc
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise Unauthorized("JWT exp/iat are not numbers")
        if not 0 < exp - iat <= self.policy.max_lifetime_s:
            raise Unauthorized(f"JWT lifetime {exp - iat}s is outside (0, {self.policy.max_lifetime_s}]")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise Unauthorized("JWT jti is not a non-empty string of acceptable length")
        return claims

    def _check_replay(self, iss: str, claims: Mapping[str, Any]) -> None:
        expires_at = datetime.fromtimestamp(claims["exp"], UTC) + timedelta(seconds=self.policy.leeway_s)
        if not self.replay_cache.remember(iss, claims["jti"], expires_at):
            raise Unauthorized(f"JWT jti {claims['jti']!r} from {iss} was already used")
