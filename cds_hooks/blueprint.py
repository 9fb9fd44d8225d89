"""Flask blueprint for the CDS Hooks endpoints, CORS, and the one place errors become JSON.

GET  /cds-services                  discovery document
POST /cds-services/<id>             call a service (hook request -> cards)
POST /cds-services/<id>/feedback    what the clinician did with the cards
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cds_hooks.cards import HookResponse
from cds_hooks.definitions import ServiceDefinition, ServiceRegistry
from cds_hooks.errors import BadRequest, CdsHooksError, NotFound
from cds_hooks.events import CallFinished, CardsIssued, EventBus, FeedbackFinished, FetchOutcome, FhirFetchDone
from cds_hooks.feedback import FeedbackItem, load_feedback
from cds_hooks.fhir_client import ClientFactory
from cds_hooks.openapi import openapi_document
from cds_hooks.outcome import FHIR_JSON, operation_outcome
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.response import ResponseInvalid, as_response
from cds_hooks.schemas import HookRequest, load_hook_request

log = logging.getLogger(__name__)

# ``authenticator(authorization_header, accepted_audiences)``: raises Unauthorized unless the JWT names one of them.
Authenticator = Callable[[str | None, Sequence[str]], None]
# What an application's card recorder looks like (subscribe it to ``CardsIssued``).
CardsObserver = Callable[[ServiceDefinition, HookRequest, HookResponse], None]
FeedbackSink = Callable[[str, Sequence[FeedbackItem]], dict[str, Any]]
# Log-safe words (no patient data) an application adds to the one log line of each call, e.g. "rules=a,b".
ResponseNote = Callable[[HookResponse], str]

CORS_ALLOW_HEADERS = "Authorization, Content-Type"
CORS_ALLOW_METHODS = "GET, POST, OPTIONS"
CORS_MAX_AGE_S = "600"


@dataclass(frozen=True)
class EndpointOptions:
    """What the endpoints need from the application: auth, FHIR access, CORS, the event bus it observes."""

    client_factory: ClientFactory
    authenticator: Authenticator | None = None
    discovery_requires_auth: bool = False
    public_url: str | None = None
    accepted_audiences: tuple[str, ...] = ()  # further public base URLs a JWT ``aud`` may name (besides public_url)
    cors_origins: tuple[str, ...] = ("*",)
    feedback_sink: FeedbackSink | None = None
    events: EventBus = field(default_factory=EventBus)
    response_note: ResponseNote | None = None


def json_response(document: Any, status: int = 200) -> Response:
    """Serialise with orjson (faster than the stdlib) as application/json."""
    return Response(orjson.dumps(document), status=status, mimetype="application/json")


class UnsupportedMediaType(CdsHooksError):
    """415: a POST body that does not say it is JSON (``application/json`` or a ``+json`` type)."""

    status = 415
    error = "unsupported_media_type"


def is_json_media_type(mimetype: str) -> bool:
    """``application/json`` or any ``+json`` structured-syntax type (RFC 6839 §3.1), parameters already removed."""
    kind, _, subtype = mimetype.strip().lower().partition("/")
    return bool(kind) and (f"{kind}/{subtype}" == "application/json" or subtype.endswith("+json"))


def _read_json() -> Any:
    # A body a browser may send cross-site without a CORS preflight (text/plain, a form) is refused unread: with auth
    # off and CORS "*", a web page could otherwise call the service and read the cards (issue 23 row 12).
    if not is_json_media_type(request.mimetype):
        raise UnsupportedMediaType("the body must be JSON: send Content-Type: application/json")
    body = request.get_data(cache=False)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(body) >= limit:
        # werkzeug cuts a streamed (chunked) body at the limit instead of refusing it; refuse it here.
        raise RequestEntityTooLarge()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("body is not valid JSON", {"body": ["is not valid JSON"]}) from exc


class AudienceNotConfigured(ValueError):
    """JWT authentication is on but no public URL says which ``aud`` the tokens must carry."""


AUDIENCE_MISSING = (
    "JWT authentication needs the service's public URL for the token audience: set CDS_PUBLIC_URL "
    "(or CDS_ACCEPTED_AUDIENCES, a comma-separated list of public base URLs)"
)


def public_bases(options: EndpointOptions) -> tuple[str, ...]:
    """The public base URLs tokens may be issued for: ``public_url`` first, then the further accepted ones."""
    return tuple(dict.fromkeys(u for u in (options.public_url, *options.accepted_audiences) if u))


class _Endpoints:
    """The view functions, bound to one registry and one set of options."""

    def __init__(self, registry: ServiceRegistry, options: EndpointOptions) -> None:
        self.registry = registry
        self.options = options
        self.resolvers = {d.id: PrefetchResolver.for_service(d, options.client_factory) for d in registry.definitions}
        self.openapi_document = openapi_document(
            registry,
            authenticated=options.authenticator is not None,
            discovery_requires_auth=options.discovery_requires_auth,
            feedback=options.feedback_sink is not None,
        )

    def openapi(self) -> Response:
        """GET /openapi.json (public, like discovery without auth: it describes the API, not patients)."""
        return json_response(self.openapi_document)

    def audiences(self) -> list[str]:
        """The URLs the caller's JWT may name as ``aud``: this endpoint under each configured public base URL.

        The request's own Host never decides it (a token for another service must not pass here; issue 23 row 5).
        """
        return [base.rstrip("/") + request.path for base in public_bases(self.options)]

    def authenticate(self) -> None:
        """Run the configured authenticator (raises Unauthorized)."""
        if self.options.authenticator is not None:
            self.options.authenticator(request.headers.get("Authorization"), self.audiences())

    def discovery(self) -> Response:
        """GET /cds-services."""
        if self.options.discovery_requires_auth:
            self.authenticate()
        return json_response(self.registry.discovery_document())

    def call_service(self, service_id: str) -> Response:
        """POST /cds-services/<id>."""
        started = time.perf_counter()
        definition = self.registry.get(service_id)
        self.authenticate()
        hook_request = load_hook_request(_read_json(), frozenset({definition.hook}))
        g.cds_hooks_call = (definition.id, definition.hook)
        prefetched = self._prefetch(definition, hook_request)
        response = as_response(definition.handler(hook_request, prefetched))
        self.options.events.publish(CardsIssued(definition, hook_request, response))
        if log.isEnabledFor(logging.INFO):
            log.info(
                "service=%s hook=%s hookInstance=%s cards=%d%s elapsed_ms=%.1f",
                service_id,
                hook_request.hook,
                hook_request.hook_instance,
                len(response.cards),
                self._note(response),
                (time.perf_counter() - started) * 1000,
            )
        return json_response(response.to_json())

    def _note(self, response: HookResponse) -> str:
        """The application's words for the call's log line (" rules=a,b"); a failing note never fails the call."""
        if self.options.response_note is None:
            return ""
        try:
            return f" {self.options.response_note(response)}"
        except Exception as exc:  # the clinician's cards matter more than the log line
            log.error("response note failed (%s)", type(exc).__name__)
            return " note=unavailable"

    def _prefetch(self, definition: ServiceDefinition, hook_request: HookRequest) -> dict[str, Any | None]:
        """Resolve the prefetch (FHIR fall-back included), publishing how it ended and how long it took."""
        resolver = self.resolvers[definition.id]
        started = time.perf_counter()
        outcome = FetchOutcome.FAILED
        try:
            prefetched = resolver.resolve(hook_request)
            outcome = FetchOutcome.FETCHED if resolver.needs_server(hook_request) else FetchOutcome.NOT_NEEDED
            return prefetched
        finally:
            elapsed = time.perf_counter() - started
            self.options.events.publish(FhirFetchDone(definition.id, definition.hook, outcome, elapsed))

    def feedback(self, service_id: str) -> Response:
        """POST /cds-services/<id>/feedback."""
        self.registry.get(service_id)
        if self.options.feedback_sink is None:
            raise NotFound("this service does not take feedback")
        g.cds_hooks_feedback = service_id
        self.authenticate()
        items = load_feedback(_read_json())
        g.cds_hooks_feedback_outcomes = _outcome_counts(items)
        summary = self.options.feedback_sink(service_id, items)
        log.info("service=%s feedback items=%d", service_id, len(items))
        return json_response(summary)


def create_blueprint(registry: ServiceRegistry, options: EndpointOptions) -> Blueprint:
    """The CDS Hooks endpoints as a blueprint (mount it at the base URL); auth without a public URL is refused."""
    if options.authenticator is not None and not public_bases(options):
        raise AudienceNotConfigured(AUDIENCE_MISSING)
    endpoints = _Endpoints(registry, options)
    blueprint = Blueprint("cds_hooks", __name__)
    blueprint.add_url_rule("/cds-services", "discovery", endpoints.discovery, methods=["GET"])
    blueprint.add_url_rule("/cds-services/<service_id>", "call", endpoints.call_service, methods=["POST"])
    blueprint.add_url_rule("/cds-services/<service_id>/feedback", "feedback", endpoints.feedback, methods=["POST"])
    blueprint.add_url_rule("/openapi.json", "openapi", endpoints.openapi, methods=["GET"])
    blueprint.after_app_request(_cors_headers(options.cors_origins))
    blueprint.before_request(_start_clock)
    blueprint.after_request(_publish_finished(options.events))
    return blueprint


def _outcome_counts(items: Sequence[FeedbackItem]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    return counts


def _start_clock() -> None:
    g.cds_hooks_started = time.perf_counter()


def _publish_finished(events: EventBus) -> Callable[[Response], Response]:
    """After-request hook publishing ``CallFinished``/``FeedbackFinished`` (errors included: they pass here too)."""

    def publish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("cds_hooks_started", time.perf_counter())
        if request.endpoint == "cds_hooks.call":
            service_id, hook = g.get("cds_hooks_call", ("unknown", "unknown"))
            events.publish(CallFinished(service_id, hook, response.status_code, elapsed))
        elif request.endpoint == "cds_hooks.feedback" and g.get("cds_hooks_feedback"):
            outcomes = g.get("cds_hooks_feedback_outcomes", {})
            events.publish(FeedbackFinished(g.cds_hooks_feedback, response.status_code, outcomes))
        return response

    return publish


def _cors_headers(origins: tuple[str, ...]) -> Callable[[Response], Response]:
    """After-request hook adding CORS headers for allowed origins (CDS Hooks 2.0 §CORS)."""

    def add(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is None:
            return response
        if "*" in origins:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers.add("Vary", "Origin")
        else:
            return response
        response.headers["Access-Control-Allow-Methods"] = CORS_ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE_S
        return response

    return add


def error_response(body: dict[str, Any], status: int) -> Response:
    """An error body as JSON, or as an OperationOutcome when the client prefers ``application/fhir+json``."""
    if request.accept_mimetypes.best_match(["application/json", FHIR_JSON]) == FHIR_JSON:
        outcome = orjson.dumps(operation_outcome(body, status))
        return Response(outcome, status=status, mimetype=FHIR_JSON)
    return json_response(body, status)


def install_error_handlers(app: Flask) -> None:
    """Every error leaves as JSON (or OperationOutcome): ours with their status, werkzeug's mapped, else a bare 500."""

    @app.errorhandler(CdsHooksError)
    def _ours(error: CdsHooksError) -> Response:
        if error.status == 401:
            log.warning("authentication failed: %s", error.message)
        return error_response(error.to_body(), error.status)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        name = (error.name or "error").lower().replace(" ", "_")
        body: dict[str, Any] = {"error": name, "message": error.description or name}
        response = error_response(body, status)
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(ResponseInvalid)
    def _invalid_response(error: ResponseInvalid) -> Response:
        log.error("refusing to send a response that breaks the spec: %s", error.problems)
        return error_response({"error": "internal_error", "message": "the service produced an invalid response"}, 500)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # The message may quote request data, so only the type and the frames are logged.
        frames = "".join(traceback.format_tb(error.__traceback__))
        log.error("unexpected error (%s)\n%s", type(error).__name__, frames)
        return error_response({"error": "internal_error", "message": "unexpected error"}, 500)
