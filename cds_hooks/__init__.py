"""A domain-free CDS Hooks 2.0 toolkit: schemas, card model, discovery, prefetch with FHIR fall-back, blueprint."""

from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache, ReplayCache
from cds_hooks.blueprint import Authenticator, EndpointOptions, create_blueprint, install_error_handlers, json_response
from cds_hooks.cards import (
    Action,
    ActionType,
    Card,
    Coding,
    HookResponse,
    Indicator,
    Link,
    LinkType,
    OverrideReason,
    SelectionBehavior,
    Source,
    Suggestion,
)
from cds_hooks.definitions import Handler, Prefetched, ServiceDefinition, ServiceRegistry
from cds_hooks.errors import (
    BadRequest,
    CdsHooksError,
    FhirClientError,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from cds_hooks.events import (
    CallFinished,
    CardsIssued,
    CardsRecorded,
    DatabaseError,
    EventBus,
    FeedbackFinished,
    FetchOutcome,
    FhirFetchDone,
)
from cds_hooks.feedback import FeedbackItem, load_feedback
from cds_hooks.fhir_client import (
    FhirClient,
    FhirClientSettings,
    client_factory,
)
from cds_hooks.openapi import openapi_document
from cds_hooks.prefetch import PrefetchResolver, render_template
from cds_hooks.response import ResponseInvalid, as_response, check_response, load_response
from cds_hooks.schemas import FhirAuthorization, HookRequest, load_hook_request
from cds_hooks.trusted_clients import TrustedClient, TrustedClientsError, load_trusted_clients
from cds_hooks.urls import ServerAllowList

__all__ = [
    "Action",
    "ActionType",
    "Card",
    "Coding",
    "HookResponse",
    "Indicator",
    "Link",
    "LinkType",
    "OverrideReason",
    "SelectionBehavior",
    "Source",
    "Suggestion",
    "as_response",
    "load_response",
    "Authenticator",
    "BadRequest",
    "CallFinished",
    "CardsIssued",
    "CardsRecorded",
    "DatabaseError",
    "EventBus",
    "FeedbackFinished",
    "FetchOutcome",
    "FhirFetchDone",
    "CdsHooksError",
    "EndpointOptions",
    "FeedbackItem",
    "FhirAuthorization",
    "FhirClient",
    "FhirClientError",
    "FhirClientSettings",
    "Handler",
    "HookRequest",
    "JwtAuthenticator",
    "MemoryReplayCache",
    "NotFound",
    "PreconditionFailed",
    "Prefetched",
    "PrefetchResolver",
    "ReplayCache",
    "ResponseInvalid",
    "ServerAllowList",
    "ServiceDefinition",
    "ServiceRegistry",
    "TrustedClient",
    "TrustedClientsError",
    "Unauthorized",
    "check_response",
    "client_factory",
    "create_blueprint",
    "install_error_handlers",
    "json_response",
    "load_feedback",
    "load_hook_request",
    "load_trusted_clients",
    "openapi_document",
    "render_template",
]
