"""The SMART App Launch 2.x client side: discovery, authorization request (PKCE S256 + state), token exchange.

OAuth itself is authlib's (``OAuth2Session``): the PKCE challenge, the authorization URL and the token request are
its code, not ours. This module only adds the SMART parts: ``.well-known/smart-configuration``, ``launch`` and
``aud``, the launch scopes, and reading ``patient`` / ``appContext`` from the token response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from cds_hooks.deadline import DeadlineWatch, capped_session
from cds_hooks.fhir_client import FhirClientSettings
from cds_hooks.urls import is_loopback_host
from service.workup.messages import WorkupStop

log = logging.getLogger(__name__)
T = TypeVar("T")

EHR_LAUNCH_SCOPES = "launch openid fhirUser patient/*.rs"
STANDALONE_SCOPES = "launch/patient openid fhirUser patient/*.rs"
VERIFIER_LENGTH = 64  # RFC 7636: 43-128 characters
STATE_LENGTH = 32
DEFAULT_LIFETIME_S = 300.0  # a token response without expires_in is trusted for five minutes only
# A SMART configuration or token response is a few kilobytes; anything past this is refused while it is read.
SIGN_IN_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class SmartEndpoints:
    """The authorization server of one FHIR server, from its SMART configuration."""

    authorization_endpoint: str
    token_endpoint: str


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what to remember for the callback."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class GrantedToken:
    """What the token response grants (the token itself never leaves the server-side session)."""

    access_token: str
    expires_at: float
    patient: str | None
    app_context: str | None
    scope: str


def _safe_endpoint(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def sign_in_session(session: requests.Session | None = None) -> requests.Session:
    """A session for the sign-in calls: the deadline watch applies and answers over SIGN_IN_MAX_BYTES are refused."""
    return capped_session(SIGN_IN_MAX_BYTES, session)


def _timed_out(error: BaseException | None) -> bool:
    """A read or connect timeout anywhere in the chain (requests wraps a streamed read's timeout as ConnectionError)."""
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        if isinstance(error, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
            return True
        wrapped = [arg for arg in error.args if isinstance(arg, BaseException)]
        error = error.__cause__ or error.__context__ or (wrapped[0] if wrapped else None)
    return False


def bounded(call: Callable[[], T], settings: FhirClientSettings, reason: str) -> T:
    """``call()`` under the FHIR budget (CDS_FHIR_TOTAL_TIMEOUT_S) as a whole: slow -> 504 page, else ``reason``."""
    with DeadlineWatch(time.monotonic() + settings.total_timeout_s) as watch:
        try:
            return call()
        except (requests.RequestException, OSError, ValueError) as exc:
            late = watch.expired or _timed_out(exc)
            log.warning("workup: %s call failed (%s%s)", reason, type(exc).__name__, ", deadline" if late else "")
            raise WorkupStop("sign-in-slow" if late else reason) from exc


def discover(iss: str, settings: FhirClientSettings, session: requests.Session) -> SmartEndpoints:
    """Read ``{iss}/.well-known/smart-configuration`` (no redirects; timeouts, total deadline and size cap)."""
    url = f"{iss.rstrip('/')}/.well-known/smart-configuration"
    timeout = (settings.connect_timeout_s, settings.read_timeout_s)

    def fetch() -> Any:
        rsp = session.get(url, headers={"Accept": "application/json"}, timeout=timeout, allow_redirects=False)
        return rsp.json() if rsp.status_code == 200 else None

    document = bounded(fetch, settings, "discovery")
    if not isinstance(document, dict):
        raise WorkupStop("discovery")
    authorize, token = document.get("authorization_endpoint"), document.get("token_endpoint")
    if not (_safe_endpoint(authorize) and _safe_endpoint(token)):
        raise WorkupStop("discovery")
    return SmartEndpoints(str(authorize), str(token))


def authorization_request(
    endpoints: SmartEndpoints, *, client_id: str, redirect_uri: str, iss: str, launch: str | None
) -> AuthorizationRequest:
    """The authorization URL with PKCE (S256), a fresh state, ``aud`` and, for an EHR launch, ``launch``."""
    scope = EHR_LAUNCH_SCOPES if launch else STANDALONE_SCOPES
    oauth = OAuth2Session(client_id, scope=scope, redirect_uri=redirect_uri, code_challenge_method="S256")
    verifier, state = generate_token(VERIFIER_LENGTH), generate_token(STATE_LENGTH)
    extra = {"aud": iss, **({"launch": launch} if launch else {})}
    endpoint = endpoints.authorization_endpoint
    url, _ = oauth.create_authorization_url(endpoint, state=state, code_verifier=verifier, **extra)
    return AuthorizationRequest(str(url), state, verifier)


def exchange_code(
    token_endpoint: str,
    *,
    code: str,
    code_verifier: str,
    client_id: str,
    redirect_uri: str,
    settings: FhirClientSettings,
) -> GrantedToken:
    """Trade the code (and the PKCE verifier) for a token as a public client (timeouts, total deadline, size cap)."""
    oauth = OAuth2Session(client_id, redirect_uri=redirect_uri, token_endpoint_auth_method="none")
    sign_in_session(oauth)  # mounts the capped, deadline-watched adapters on authlib's session
    timeout = (settings.connect_timeout_s, settings.read_timeout_s)

    def fetch() -> Any:
        return oauth.fetch_token(
            token_endpoint, code=code, code_verifier=code_verifier, timeout=timeout, allow_redirects=False
        )

    try:
        token = bounded(fetch, settings, "token")
    except OAuthError as exc:
        log.warning("workup: token exchange refused (%s)", exc.error)
        raise WorkupStop("token") from exc
    finally:
        oauth.close()
    return _granted(dict(token))


def _granted(token: dict[str, Any]) -> GrantedToken:
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise WorkupStop("token")
    try:
        lifetime = float(token.get("expires_in", DEFAULT_LIFETIME_S))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME_S
    patient, context = token.get("patient"), token.get("appContext")
    return GrantedToken(
        access_token=access_token,
        expires_at=time.time() + lifetime,
        patient=patient if isinstance(patient, str) and patient else None,
        app_context=context if isinstance(context, str) and context else None,
        scope=str(token.get("scope") or ""),
    )
