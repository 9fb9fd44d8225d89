"""A domain-free CDS Hooks 2.0 toolkit: schemas, card model, discovery, prefetch with FHIR fall-back, blueprint."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache, ReplayCache
    from cds_hooks.blueprint import (
        Authenticator,
        EndpointOptions,
        create_blueprint,
        install_error_handlers,
        json_response,
    )
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
    from cds_hooks.errors import BadRequest, CdsHooksError, FhirClientError, NotFound, PreconditionFailed, Unauthorized
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
    from cds_hooks.fhir_client import FhirClient, FhirClientSettings, client_factory
    from cds_hooks.openapi import openapi_document
    from cds_hooks.prefetch import PrefetchResolver, render_template
    from cds_hooks.response import ResponseInvalid, as_response, check_response, load_response
    from cds_hooks.schemas import FhirAuthorization, HookRequest, load_hook_request
    from cds_hooks.trusted_clients import TrustedClient, TrustedClientsError, load_trusted_clients
    from cds_hooks.urls import ServerAllowList

# Each public name -> the submodule that defines it. Loaded on first use (module ``__getattr__``), so a caller
# that needs the card model does not pay for Flask, PyJWT/cryptography or requests.
_SOURCES: dict[str, str] = {
    "JwtAuthenticator": "cds_hooks.auth",
    "MemoryReplayCache": "cds_hooks.auth",
    "ReplayCache": "cds_hooks.auth",
    "Authenticator": "cds_hooks.blueprint",
    "EndpointOptions": "cds_hooks.blueprint",
    "create_blueprint": "cds_hooks.blueprint",
    "install_error_handlers": "cds_hooks.blueprint",
    "json_response": "cds_hooks.blueprint",
    "Action": "cds_hooks.cards",
    "ActionType": "cds_hooks.cards",
    "Card": "cds_hooks.cards",
    "Coding": "cds_hooks.cards",
    "HookResponse": "cds_hooks.cards",
    "Indicator": "cds_hooks.cards",
    "Link": "cds_hooks.cards",
    "LinkType": "cds_hooks.cards",
    "OverrideReason": "cds_hooks.cards",
    "SelectionBehavior": "cds_hooks.cards",
    "Source": "cds_hooks.cards",
    "Suggestion": "cds_hooks.cards",
    "Handler": "cds_hooks.definitions",
    "Prefetched": "cds_hooks.definitions",
    "ServiceDefinition": "cds_hooks.definitions",
    "ServiceRegistry": "cds_hooks.definitions",
    "BadRequest": "cds_hooks.errors",
    "CdsHooksError": "cds_hooks.errors",
    "FhirClientError": "cds_hooks.errors",
    "NotFound": "cds_hooks.errors",
    "PreconditionFailed": "cds_hooks.errors",
    "Unauthorized": "cds_hooks.errors",
    "CallFinished": "cds_hooks.events",
    "CardsIssued": "cds_hooks.events",
    "CardsRecorded": "cds_hooks.events",
    "DatabaseError": "cds_hooks.events",
    "EventBus": "cds_hooks.events",
    "FeedbackFinished": "cds_hooks.events",
    "FetchOutcome": "cds_hooks.events",
    "FhirFetchDone": "cds_hooks.events",
    "FeedbackItem": "cds_hooks.feedback",
    "load_feedback": "cds_hooks.feedback",
    "FhirClient": "cds_hooks.fhir_client",
    "FhirClientSettings": "cds_hooks.fhir_client",
    "client_factory": "cds_hooks.fhir_client",
    "openapi_document": "cds_hooks.openapi",
    "PrefetchResolver": "cds_hooks.prefetch",
    "render_template": "cds_hooks.prefetch",
    "ResponseInvalid": "cds_hooks.response",
    "as_response": "cds_hooks.response",
    "check_response": "cds_hooks.response",
    "load_response": "cds_hooks.response",
    "FhirAuthorization": "cds_hooks.schemas",
    "HookRequest": "cds_hooks.schemas",
    "load_hook_request": "cds_hooks.schemas",
    "TrustedClient": "cds_hooks.trusted_clients",
    "TrustedClientsError": "cds_hooks.trusted_clients",
    "load_trusted_clients": "cds_hooks.trusted_clients",
    "ServerAllowList": "cds_hooks.urls",
}
__all__ = [
    "Action",
    "ActionType",
    "Authenticator",
    "BadRequest",
    "CallFinished",
    "Card",
    "CardsIssued",
    "CardsRecorded",
    "CdsHooksError",
    "Coding",
    "DatabaseError",
    "EndpointOptions",
    "EventBus",
    "FeedbackFinished",
    "FeedbackItem",
    "FetchOutcome",
    "FhirAuthorization",
    "FhirClient",
    "FhirClientError",
    "FhirClientSettings",
    "FhirFetchDone",
    "Handler",
    "HookRequest",
    "HookResponse",
    "Indicator",
    "JwtAuthenticator",
    "Link",
    "LinkType",
    "MemoryReplayCache",
    "NotFound",
    "OverrideReason",
    "PreconditionFailed",
    "PrefetchResolver",
    "Prefetched",
    "ReplayCache",
    "ResponseInvalid",
    "SelectionBehavior",
    "ServerAllowList",
    "ServiceDefinition",
    "ServiceRegistry",
    "Source",
    "Suggestion",
    "TrustedClient",
    "TrustedClientsError",
    "Unauthorized",
    "as_response",
    "check_response",
    "client_factory",
    "create_blueprint",
    "install_error_handlers",
    "json_response",
    "load_feedback",
    "load_hook_request",
    "load_response",
    "load_trusted_clients",
    "openapi_document",
    "render_template",
]


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first access and cache the name in this module."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'cds_hooks' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The lazily exposed names, as ``dir()`` and tab completion would see them eagerly."""
    return sorted({*globals(), *_SOURCES})
