"""A small FHIR R4 REST client for the prefetch fall-back: bearer token, explicit timeouts, paging, typed errors.

It only ever talks to the ``fhirServer`` the request named, and only if that server is allowed: ``next`` links
that point anywhere else are refused, so a clinician's token never leaves for another host.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import requests
import urllib3

from cds_hooks.deadline import DeadlineWatch, deadline_session, read_capped
from cds_hooks.errors import (
    FhirBadResponse,
    FhirConnectionError,
    FhirHttpError,
    FhirServerNotAllowed,
    FhirTimeout,
)
from cds_hooks.urls import ServerAllowList, origin, same_server

DEFAULT_CONNECT_TIMEOUT_S = 2.0
DEFAULT_READ_TIMEOUT_S = 5.0
DEFAULT_MAX_PAGES = 10
# One hook call's whole FHIR budget (all keys, all pages): an EHR stops waiting for cards after a few seconds.
DEFAULT_TOTAL_TIMEOUT_S = 8.0
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
FHIR_JSON = "application/fhir+json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FhirClientSettings:
    """Limits for every FHIR call."""

    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_pages: int = DEFAULT_MAX_PAGES
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    total_timeout_s: float = DEFAULT_TOTAL_TIMEOUT_S


class _BearerAuth(requests.auth.AuthBase):
    """Sets the lent bearer token; passing it as ``auth`` also stops requests from applying a .netrc entry."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the Authorization header."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


_ACCEPT = {"Accept": FHIR_JSON}
# What a peer that hangs up, or a socket shut down by the deadline watch, can raise from inside requests.
_TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class FhirClient:
    """Reads and searches one FHIR server on behalf of one hook call."""

    def __init__(
        self,
        base_url: str,
        access_token: str | None = None,
        session: requests.Session | None = None,
        settings: FhirClientSettings | None = None,
        allowed: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.allowed = allowed
        self._token = access_token
        self._session = session or cookieless_session()
        self.settings = settings or FhirClientSettings()
        self._deadline = time.monotonic() + self.settings.total_timeout_s

    def _absolute(self, url: str) -> str:
        if not self.allowed:
            raise FhirServerNotAllowed("FHIR server is not on the allow-list")
        if url.startswith(("http://", "https://")):
            if not same_server(self.base_url, url):
                scheme, host, port, _ = origin(url)
                log.warning("refused a link to %s://%s:%s, outside FHIR server %s", scheme, host, port, self.base_url)
                raise FhirServerNotAllowed("link points outside the FHIR server")
            return url
        return f"{self.base_url}/{url.lstrip('/')}"

    def _timeout(self) -> tuple[float, float]:
        """(connect, read) timeouts, shortened so the whole call stays within its total budget."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise FhirTimeout("FHIR time budget for this call is spent")
        return min(self.settings.connect_timeout_s, remaining), min(self.settings.read_timeout_s, remaining)

    def get_json(self, url: str) -> dict[str, Any]:
        """GET ``url`` (relative to the base, or an absolute link on the same server) as a JSON object."""
        absolute = self._absolute(url)
        timeout = self._timeout()
        auth = _BearerAuth(self._token) if self._token else None
        # The watch shuts the socket down at the call's deadline: per-read timeouts alone let a trickling peer
        # (a byte a second, an endless chunked body) hold the call for as long as it likes.
        with DeadlineWatch(self._deadline) as watch:
            try:
                # Redirects are not followed: a 3xx could lead the call (and data) to a server off the allow-list.
                options: dict[str, Any] = {"headers": _ACCEPT, "auth": auth, "timeout": timeout}
                with self._session.get(absolute, stream=True, allow_redirects=False, **options) as rsp:
                    body = self._read_limited(rsp)
            except _TRANSPORT_ERRORS as exc:
                if watch.expired:
                    raise FhirTimeout("FHIR time budget for this call is spent") from exc
                if isinstance(exc, requests.Timeout):
                    raise FhirTimeout("FHIR server timed out") from exc
                raise FhirConnectionError(f"FHIR server unreachable ({type(exc).__name__})") from exc
        if not 200 <= rsp.status_code < 300:
            raise FhirHttpError(f"FHIR server answered {rsp.status_code}", rsp.status_code)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise FhirBadResponse("FHIR server answered with non-JSON") from exc
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise FhirBadResponse("FHIR server answered with JSON that is not a resource")
        return document

    def _read_limited(self, response: requests.Response) -> bytes:
        """The body, read in chunks: refused past the size cap, abandoned past the call's deadline."""
        too_large = FhirBadResponse("FHIR response larger than the configured limit")
        too_late = FhirTimeout("FHIR time budget for this call is spent")
        return read_capped(response, self.settings.max_response_bytes, too_large, self._deadline, too_late)

    def fetch(self, url: str, enough: PagesEnough | None = None) -> dict[str, Any]:
        """Read or search; a searchset is returned with every page's entries merged (up to the page cap)."""
        document = self.get_json(url)
        if document.get("resourceType") == "OperationOutcome":
            raise FhirBadResponse("FHIR server answered with an OperationOutcome")
        if document.get("resourceType") == "Bundle":
            return self.complete_bundle(document, enough)
        return document

    def complete_bundle(self, bundle: dict[str, Any], enough: PagesEnough | None = None) -> dict[str, Any]:
        """Follow ``next`` links and return one Bundle holding every entry.

        Paging stops at ``max_pages``, or as soon as ``enough`` says the entries read so far are all the caller needs.
        """
        entries = list(bundle.get("entry") or [])
        page, pages = bundle, 1
        while (link := next_link(page)) is not None and pages < self.settings.max_pages:
            if enough is not None and enough(entries):
                log.info("FHIR paging stopped after %d page(s): the caller has what it needs", pages)
                break
            page = self.get_json(link)
            if page.get("resourceType") != "Bundle":
                raise FhirBadResponse("a next page was not a Bundle")
            entries.extend(page.get("entry") or [])
            pages += 1
        if next_link(page) is not None and pages >= self.settings.max_pages:
            log.warning("FHIR paging stopped at the cap of %d pages; later pages not read", pages)
        merged = {k: v for k, v in bundle.items() if k != "link"}
        merged["entry"] = entries
        return merged


def next_link(bundle: dict[str, Any]) -> str | None:
    """The ``next`` link of a searchset Bundle, if any."""
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            url: str = link["url"]
            return url
    return None


def cookieless_session() -> requests.Session:
    """A pooled session that never keeps cookies (nothing of one call leaks into the next) and honours deadlines."""
    session = deadline_session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


ClientFactory = Callable[[str, str | None], FhirClient]
# Told the searchset entries read so far (in server order); True means later pages are not needed.
PagesEnough = Callable[[Sequence[dict[str, Any]]], bool]


def client_factory(
    allow_list: ServerAllowList,
    settings: FhirClientSettings | None = None,
    session: requests.Session | None = None,
    own_port: Callable[[], int | None] | None = None,
) -> ClientFactory:
    """A factory that builds clients refusing (without contacting) servers off the allow-list.

    ``own_port`` tells the port this service is answering on, for an allow-list that guards loopback targets.
    """
    shared = session or cookieless_session()

    def build(base_url: str, access_token: str | None) -> FhirClient:
        allowed = allow_list.permits(base_url, own_port() if own_port is not None else None)
        return FhirClient(base_url, access_token, session=shared, settings=settings, allowed=allowed)

    return build
