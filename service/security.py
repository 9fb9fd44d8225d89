"""Trust at the edge: the JWT authenticator from settings, and the refusal to serve unauthenticated off loopback."""

from __future__ import annotations

import logging

from flask import has_request_context, request

from cds_hooks.auth import JwtAuthenticator, ReplayCache
from cds_hooks.blueprint import AUDIENCE_MISSING, Authenticator
from cds_hooks.trusted_clients import TrustedClientsError, load_trusted_clients
from cds_hooks.urls import ServerAllowList, is_loopback_host
from service.config import Settings

log = logging.getLogger(__name__)

AUTH_OFF_WARNING = (
    "AUTHENTICATION IS OFF: CDS_TRUSTED_CLIENTS is not set, so any caller can invoke this service. "
    "Development only - set CDS_TRUSTED_CLIENTS to a trusted-clients file before exposing it (docs/security.md)."
)


def build_authenticator(settings: Settings, replay_cache: ReplayCache) -> Authenticator | None:
    """The JWT authenticator for the trusted clients file, or None (with a loud warning) when none is configured.

    A bad file raises ``TrustedClientsError`` so the app refuses to start.
    """
    if not settings.trusted_clients_file:
        log.warning(AUTH_OFF_WARNING)
        return None
    clients = load_trusted_clients(settings.trusted_clients_file)
    log.info("JWT authentication on; trusted issuers: %s", ", ".join(c.iss for c in clients))
    return JwtAuthenticator(clients, replay_cache)


def serve_refusal(host: str, settings: Settings, allow_unauthenticated: bool) -> str | None:
    """Why ``serve`` must not start: a bad trusted-clients file, or auth off on a non-loopback address."""
    if settings.trusted_clients_file:
        try:
            load_trusted_clients(settings.trusted_clients_file)
        except TrustedClientsError as exc:
            return str(exc)
        return None if settings.audience_bases else AUDIENCE_MISSING
    if allow_unauthenticated or is_loopback_host(host):
        return None
    return (
        f"refusing to serve on {host} without authentication: set CDS_TRUSTED_CLIENTS (see docs/security.md), "
        "bind to 127.0.0.1, or pass --allow-unauthenticated if something in front of this service authenticates"
    )


def fhir_allow_list(settings: Settings) -> ServerAllowList:
    """The FHIR servers the service may call; the development default also guards loopback (issue 23 row 9).

    Without a configured allow-list (and with authentication off) loopback servers are allowed for local work, but
    not on the service's own port or a well-known database or broker port (``cds_hooks.urls``).
    """
    allow_list = ServerAllowList.parse(settings.effective_fhir_allowlist)
    development = settings.fhir_server_allowlist is None and not settings.auth_enabled
    return allow_list.guarding_loopback() if development else allow_list


def serving_port() -> int | None:
    """The port the current request came in on (WSGI ``SERVER_PORT``: the listener's own port), if any."""
    port = request.environ.get("SERVER_PORT", "") if has_request_context() else ""
    return int(port) if isinstance(port, str) and port.isdigit() else None
