"""Prefetch templates (CDS Hooks 2.0 tokens only) and their resolution with the FHIR-server fall-back.

For each key a service declares: a key the client sent with a resource is used as is (a paged searchset is
completed from the FHIR server); a key sent as ``null`` means "no data"; a key that is absent or holds an
OperationOutcome is fetched from ``fhirServer`` with the lent token. When data can be had from neither,
the call fails with 412 (CDS Hooks 2.0 §Prefetch Template: "SHALL respond with 412") - except for the keys a
service declares optional: when the client did not send one and it cannot be fetched (no ``fhirServer``, or the
server fails), it is left out of the result (and logged), so a client configured before the key existed still
gets an answer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cds_hooks.errors import BadRequest, FhirClientError, FhirScopeNotGranted, FhirServerNotAllowed, PreconditionFailed
from cds_hooks.fhir_client import ClientFactory, FhirClient, PagesEnough, next_link
from cds_hooks.schemas import HookRequest
from cds_hooks.scopes import scope_refusal

if TYPE_CHECKING:
    from cds_hooks.definitions import ServiceDefinition

log = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# CDS Hooks 2.0 user tokens, derived from context.userId ("Practitioner/123" -> userPractitionerId=123).
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
MAX_PARALLEL_FETCHES = 6
_CONTEXT_FIELD = re.compile(r"^context\.([A-Za-z][A-Za-z0-9]*)$")


def check_template(template: str) -> None:
    """Raise ValueError unless every token is a 2.0 token (``{{context.x}}`` or a user token)."""
    for token in TOKEN_PATTERN.findall(template):
        if token not in USER_TOKENS and not _CONTEXT_FIELD.match(token):
            raise ValueError(f"prefetch token {{{{{token}}}}} is not a CDS Hooks 2.0 token")
    if "{{" in TOKEN_PATTERN.sub("", template) or "}}" in TOKEN_PATTERN.sub("", template):
        raise ValueError("unbalanced prefetch token delimiters")


def _token_value(token: str, context: Mapping[str, Any]) -> str:
    if token in USER_TOKENS:
        user = context.get("userId")
        resource_type, _, user_id = str(user or "").partition("/")
        if resource_type != USER_TOKENS[token] or not user_id:
            raise BadRequest("prefetch token unavailable", {"context.userId": [f"is not a {resource_type}"]})
        return user_id
    name = token.removeprefix("context.")
    value = context.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRequest("prefetch token unavailable", {f"context.{name}": ["is needed by a prefetch template"]})
    return str(value)


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Substitute tokens with URL-quoted context values."""
    return TOKEN_PATTERN.sub(lambda m: quote(_token_value(m.group(1), context), safe=""), template)


def _is_usable(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome")


def _complete_sent_bundle(
    key: str, value: dict[str, Any], client: FhirClient | None, enough: PagesEnough | None
) -> dict[str, Any]:
    if value.get("resourceType") != "Bundle" or next_link(value) is None:
        return value
    if client is None:
        raise PreconditionFailed("prefetch is paged and no FHIR server was given to read the rest", [key])
    return client.complete_bundle(value, enough)


def _scoped(request: HookRequest, fetch: Callable[[], dict[str, Any]], url: str) -> Callable[[], dict[str, Any]]:
    """``fetch``, unless the lent token's scope plainly does not cover ``url`` (then a fetch that refuses)."""
    scope = request.fhir_authorization.scope if request.fhir_authorization else None
    refusal = scope_refusal(scope, url)
    if refusal is None:
        return fetch

    def refuse() -> dict[str, Any]:
        raise FhirScopeNotGranted(refusal)

    return refuse


class PrefetchResolver:
    """Resolves one service's prefetch templates for one hook call.

    ``enough`` may give, per key, the service's test for "later pages cannot change my answer" (for example: the
    search is sorted newest first and every item the rules read already has its latest value); paging a searchset
    of that key stops as soon as the test says so. ``optional`` keys are left out, not fatal, when the client did
    not send them and they cannot be fetched.
    """

    def __init__(
        self,
        templates: Mapping[str, str],
        client_factory: ClientFactory,
        enough: Mapping[str, PagesEnough] | None = None,
        optional: frozenset[str] = frozenset(),
    ) -> None:
        for template in templates.values():
            check_template(template)
        self.templates = dict(templates)
        self._client_factory = client_factory
        self._enough = dict(enough or {})
        self._optional = optional
        unknown = (set(self._enough) | optional) - set(self.templates)
        if unknown:
            raise ValueError(f"paging tests or optional keys without a template: {sorted(unknown)}")

    @classmethod
    def for_service(cls, definition: ServiceDefinition, client_factory: ClientFactory) -> PrefetchResolver:
        """The one resolver of a service definition: its templates, paging tests and optional keys.

        Every way into a service (the hook endpoint, a command line, a second front end) gets its resolver here, so
        none of them pages further or fails where the hook would go on.
        """
        return cls(definition.prefetch, client_factory, definition.pages_enough, definition.optional_prefetch)

    def _client(self, request: HookRequest) -> FhirClient | None:
        if request.fhir_server is None:
            return None
        return self._client_factory(request.fhir_server, request.access_token)

    def needs_server(self, request: HookRequest) -> bool:
        """Whether resolving ``request`` reads from the FHIR server (a key missing or unusable, or a paged Bundle)."""
        for key in self.templates:
            value = request.prefetch.get(key, ...)
            if value is ... and key in self._optional and request.fhir_server is None:
                continue  # left out, not fetched
            if value is not None and (not _is_usable(value) or next_link(value) is not None):
                return True
        return False

    def resolve(self, request: HookRequest) -> dict[str, Any | None]:
        """Every declared key mapped to its resource/Bundle, or ``None`` when the client said "no data"."""
        for key, value in request.prefetch.items():
            if key in self.templates and value is not None and not isinstance(value, dict):
                raise BadRequest("invalid prefetch", {f"prefetch.{key}": ["must be a FHIR resource or null"]})
        client = self._client(request)
        resolved: dict[str, Any | None] = {}
        missing: list[str] = []
        for key in self.templates:
            value = request.prefetch.get(key, ...)
            if value is None:
                resolved[key] = None
            elif _is_usable(value):
                resolved[key] = self._guard(
                    key, partial(_complete_sent_bundle, key, value, client, self._enough.get(key))
                )
            else:
                missing.append(key)
        if client is None:
            missing = self._without_optional(missing, request)
        if not missing:
            return resolved
        if client is None:
            raise PreconditionFailed("prefetch incomplete and no fhirServer to fetch it from", missing)
        urls = {key: render_template(self.templates[key], request.context) for key in missing}
        # Missing keys are fetched side by side: the call waits for the slowest query, not for their sum.
        with ThreadPoolExecutor(max_workers=min(len(urls), MAX_PARALLEL_FETCHES)) as pool:
            futures = {
                key: pool.submit(
                    self._guard, key, _scoped(request, partial(client.fetch, url, self._enough.get(key)), url)
                )
                for key, url in urls.items()
            }
            for key, future in futures.items():
                try:
                    resolved[key] = future.result()
                except PreconditionFailed:
                    if key not in self._optional:
                        raise
                    log.warning(
                        "hookInstance=%s optional prefetch %s left out: not obtainable", request.hook_instance, key
                    )
        return resolved

    def _without_optional(self, missing: list[str], request: HookRequest) -> list[str]:
        """The missing keys that are required; optional ones are logged as left out."""
        left_out = [key for key in missing if key in self._optional]
        if left_out:
            log.info(
                "hookInstance=%s optional prefetch left out (not sent, no fhirServer): %s",
                request.hook_instance,
                ",".join(left_out),
            )
        return [key for key in missing if key not in self._optional]

    @staticmethod
    def _guard(key: str, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            result = fetch()
        except FhirServerNotAllowed as exc:
            raise PreconditionFailed(f"FHIR server not usable: {exc}", [key]) from exc
        except FhirClientError as exc:
            log.warning("prefetch key %s unobtainable: %s", key, exc)
            raise PreconditionFailed(f"could not obtain prefetch data: {exc}", [key]) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms > 1:
            log.info("prefetch key %s completed from FHIR server in %.1f ms", key, elapsed_ms)
        return result
