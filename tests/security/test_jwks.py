"""Where keys come from: the JWKS cache (TTL, rate-limited refresh), the jku allow-list, inline key sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cds_hooks import Unauthorized
from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache
from cds_hooks.jwks import JwksCache, JwksSettings, parse_jwks
from cds_hooks.trusted_clients import TrustedClient
from tests.loopback import Loopback, loopback_server
from tests.security.conftest import ISSUER, JWKS_PATH, SERVICE_URL, SigningKey, bearer, claims, sign


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(client: TrustedClient, clock: Clock | None = None) -> JwtAuthenticator:
    """An authenticator with a JWKS cache on the given clock (TTL 300 s, refresh at most every 60 s)."""
    cache = JwksCache(JwksSettings(ttl_s=300, min_refresh_s=60), clock=clock or Clock())
    return JwtAuthenticator([client], MemoryReplayCache(), cache)


def published(server: Loopback) -> tuple[JwtAuthenticator, Clock]:
    """An authenticator trusting ISSUER, whose keys are at ``server``'s JWKS URL, and the clock its cache reads."""
    clock = Clock()
    return verifier(TrustedClient(ISSUER, jwks_url=server.url(JWKS_PATH)), clock), clock


def authenticate(auth: JwtAuthenticator, key: SigningKey, **header: object) -> None:
    """Present a fresh valid token signed by ``key`` for the echo service."""
    auth(bearer(sign(key, claims(), **header))["Authorization"], SERVICE_URL)


def test_jwks_is_fetched_once_and_cached(jwks_server: Loopback, es384: SigningKey, rs384: SigningKey) -> None:
    auth, _ = published(jwks_server)
    for _ in range(3):
        authenticate(auth, es384)
        authenticate(auth, rs384)
    assert jwks_server.hits[JWKS_PATH] == 1


def test_jwks_is_refetched_after_the_ttl(jwks_server: Loopback, es384: SigningKey) -> None:
    auth, clock = published(jwks_server)
    authenticate(auth, es384)
    clock.now += 301
    authenticate(auth, es384)
    assert jwks_server.hits[JWKS_PATH] == 2


def test_unknown_kids_refresh_at_most_once_per_interval(jwks_server: Loopback, es384: SigningKey) -> None:
    auth, clock = published(jwks_server)
    authenticate(auth, es384)
    clock.now += 61
    for n in range(20):
        with pytest.raises(Unauthorized, match="unknown kid"):
            authenticate(auth, es384, kid=f"made-up-{n}")
    assert jwks_server.hits[JWKS_PATH] == 2  # the first fetch, then one refresh for the whole burst


def test_key_rotation_is_picked_up_on_an_unknown_kid(jwks_server: Loopback, es384: SigningKey) -> None:
    rotated = {**es384.jwk, "kid": "rotated"}
    jwks_server.routes[JWKS_PATH] = {"keys": [rotated]}
    auth, clock = published(jwks_server)
    with pytest.raises(Unauthorized):
        authenticate(auth, es384)  # es384-key is not published yet
    jwks_server.routes[JWKS_PATH] = {"keys": [rotated, es384.jwk]}
    clock.now += 61
    authenticate(auth, es384)


def test_jwks_outage_keeps_the_keys_already_held(jwks_server: Loopback, es384: SigningKey) -> None:
    auth, clock = published(jwks_server)
    authenticate(auth, es384)
    del jwks_server.routes[JWKS_PATH]
    clock.now += 301
    authenticate(auth, es384)
    assert jwks_server.hits[JWKS_PATH] == 2


def test_unreachable_jwks_is_401(es384: SigningKey) -> None:
    with loopback_server() as gone:
        url = gone.url(JWKS_PATH)
    auth = verifier(TrustedClient(ISSUER, jwks_url=url))
    with pytest.raises(Unauthorized, match="could not be fetched: ConnectionError"):
        authenticate(auth, es384)


def test_jku_off_the_allow_list_is_never_fetched(jwks_server: Loopback, es384: SigningKey) -> None:
    with loopback_server() as attacker:
        attacker.routes[JWKS_PATH] = {"keys": [{**es384.jwk, "kid": "attacker-kid"}]}
        auth = verifier(TrustedClient(ISSUER, jwks_url=jwks_server.url(JWKS_PATH)))
        # The kid is in the configured set: that key decides, whatever jku the token names.
        authenticate(auth, es384, jku=attacker.url(JWKS_PATH))
        with pytest.raises(Unauthorized, match="unknown kid 'attacker-kid'.*not on the allow-list.*not fetched"):
            authenticate(auth, es384, kid="attacker-kid", jku=attacker.url(JWKS_PATH))
        assert attacker.total == 0
        assert jwks_server.hits[JWKS_PATH] == 1


def test_configured_key_wins_over_a_listed_jku(es384: SigningKey) -> None:
    with loopback_server() as keys:
        keys.routes["/rotating/jwks"] = {"keys": [es384.jwk]}
        client = TrustedClient(ISSUER, jwks=parse_jwks({"keys": [es384.jwk]}), jku=(keys.url("/rotating/jwks"),))
        authenticate(verifier(client), es384, jku=keys.url("/rotating/jwks"))
        assert keys.total == 0


def test_a_listed_jku_that_cannot_be_fetched_says_so(es384: SigningKey) -> None:
    with loopback_server() as gone:
        url = gone.url(JWKS_PATH)
    client = TrustedClient(ISSUER, jwks=parse_jwks({"keys": [{**es384.jwk, "kid": "old"}]}), jku=(url,))
    with pytest.raises(Unauthorized, match="could not be fetched: ConnectionError"):
        authenticate(verifier(client), es384, jku=url)


def test_jku_on_the_allow_list_is_used(es384: SigningKey) -> None:
    with loopback_server() as keys:
        keys.routes["/rotating/jwks"] = {"keys": [es384.jwk]}
        client = TrustedClient(ISSUER, jwks={}, jku=(keys.url("/rotating/jwks"),))
        authenticate(verifier(client), es384, jku=keys.url("/rotating/jwks"))
        assert keys.hits["/rotating/jwks"] == 1


def test_jku_equal_to_the_configured_jwks_url_is_allowed(jwks_server: Loopback, es384: SigningKey) -> None:
    auth = verifier(TrustedClient(ISSUER, jwks_url=jwks_server.url(JWKS_PATH)))
    authenticate(auth, es384, jku=jwks_server.url(JWKS_PATH))


def test_redirects_are_not_followed(es384: SigningKey) -> None:
    with loopback_server() as keys:
        client = TrustedClient(ISSUER, jwks_url=keys.url("/missing"))
        with pytest.raises(Unauthorized):
            authenticate(verifier(client), es384)
        assert keys.hits["/missing"] == 1


def test_inline_jwks_needs_no_network(es384: SigningKey, rs384: SigningKey) -> None:
    keys = parse_jwks({"keys": [es384.jwk, rs384.jwk]})
    auth = verifier(TrustedClient(ISSUER, jwks=keys))
    authenticate(auth, es384)
    authenticate(auth, rs384)
    with pytest.raises(Unauthorized, match="unknown kid"):
        authenticate(auth, es384, kid="other")


def test_parse_jwks_drops_symmetric_encryption_and_kidless_keys(es384: SigningKey) -> None:
    document = {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {**es384.jwk, "kid": "enc", "use": "enc"},
            {k: v for k, v in es384.jwk.items() if k != "kid"},
            {"kty": "EC", "kid": "broken", "crv": "P-384", "x": "AA", "y": "AA"},
            es384.jwk,
        ]
    }
    assert set(parse_jwks(document)) == {"es384-key"}


def test_memory_replay_cache_forgets_expired_pairs() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    cache = MemoryReplayCache(clock=lambda: now)
    expires = now + timedelta(minutes=5)
    assert cache.remember("iss", "a", expires) is True
    assert cache.remember("iss", "a", expires) is False
    assert cache.remember("other-iss", "a", expires) is True
    now += timedelta(minutes=6)
    assert cache.remember("iss", "a", now + timedelta(minutes=5)) is True
