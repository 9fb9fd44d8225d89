"""An OpenAPI 3.0 description of the CDS Hooks endpoints, built from the service registry (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from cds_hooks.definitions import ServiceDefinition, ServiceRegistry
from cds_hooks.limits import (
    B64TOKEN_PATTERN,
    FHIR_ID_PATTERN,
    HOOK_INSTANCE_PATTERN,
    MAX_ACCESS_TOKEN_CHARS,
    MAX_CODE_CHARS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_URI_CHARS,
    MAX_URL_CHARS,
    RELATIVE_REFERENCE_PATTERN,
)

OPENAPI_VERSION = "3.0.3"
_REF = "#/components/schemas/"
_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
_FHIR_ID: dict[str, Any] = {"type": "string", "pattern": FHIR_ID_PATTERN}
_REFERENCE: dict[str, Any] = {"type": "string", "pattern": RELATIVE_REFERENCE_PATTERN}
_BUNDLE: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "entry": {"type": "array", "items": _OBJECT},
    },
}
# The contexts the toolkit checks (cds_hooks.schemas.CONTEXT_SCHEMAS); other hooks take any object.
_PATIENT_VIEW_CONTEXT: dict[str, Any] = {
    "type": "object",
    "required": ["userId", "patientId"],
    "properties": {"userId": _REFERENCE, "patientId": _FHIR_ID, "encounterId": _FHIR_ID},
}
_ORDER_SIGN_CONTEXT: dict[str, Any] = {
    "type": "object",
    "required": [*_PATIENT_VIEW_CONTEXT["required"], "draftOrders"],
    "properties": {**_PATIENT_VIEW_CONTEXT["properties"], "draftOrders": _BUNDLE},
}
_ORDER_SELECT_CONTEXT: dict[str, Any] = {
    "type": "object",
    "required": [*_ORDER_SIGN_CONTEXT["required"], "selections"],
    "properties": {
        **_ORDER_SIGN_CONTEXT["properties"],
        "selections": {"type": "array", "minItems": 1, "items": _REFERENCE},
    },
}
_CONTEXTS = {
    "patient-view": "PatientViewContext",
    "order-sign": "OrderSignContext",
    "order-select": "OrderSelectContext",
}
_CODING: dict[str, Any] = {
    "type": "object",
    "required": ["code", "system"],
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": MAX_CODE_CHARS},
        "system": {"type": "string", "minLength": 1, "maxLength": MAX_URI_CHARS},
        "display": {"type": "string", "maxLength": MAX_URI_CHARS},
    },
}
_OVERRIDE_REASON: dict[str, Any] = {
    "type": "object",
    "description": "needs reason or userComment (CDS Hooks invariant cds-fb-3)",
    "properties": {"reason": _CODING, "userComment": {"type": "string", "maxLength": MAX_TEXT_CHARS}},
    "anyOf": [{"required": ["reason"]}, {"required": ["userComment"]}],
}
_FEEDBACK_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["card", "outcome", "outcomeTimestamp"],
    "description": "acceptedSuggestions is required when outcome is accepted (invariant cds-fb-2)",
    "properties": {
        "card": _NAME,
        "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
        "acceptedSuggestions": {
            "type": "array",
            "items": {"type": "object", "required": ["id"], "properties": {"id": _NAME}},
        },
        "overrideReason": _OVERRIDE_REASON,
        "outcomeTimestamp": {"type": "string", "format": "date-time"},
    },
    "anyOf": [
        {"properties": {"outcome": {"enum": ["overridden"]}}},
        {"required": ["acceptedSuggestions"], "properties": {"acceptedSuggestions": {"minItems": 1}}},
    ],
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "prefetch": {"type": "array", "items": {"type": "string"}},
        },
    },
    "FhirAuthorization": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
        "properties": {
            "access_token": {"type": "string", "maxLength": MAX_ACCESS_TOKEN_CHARS, "pattern": B64TOKEN_PATTERN},
            "token_type": {"type": "string", "enum": ["Bearer", "bearer"]},
            "expires_in": {"type": "integer", "minimum": 0},
            "scope": {"type": "string", "maxLength": MAX_TEXT_CHARS},
            "subject": {"type": "string", "maxLength": MAX_URI_CHARS},
            "patient": _FHIR_ID,
        },
    },
    "Card": {
        "type": "object",
        "required": ["summary", "indicator", "source"],
        "properties": {
            "uuid": {"type": "string"},
            "summary": {"type": "string", "maxLength": 140},
            "detail": {"type": "string"},
            "indicator": {"type": "string", "enum": ["info", "warning", "critical"]},
            "source": _OBJECT,
            "suggestions": {"type": "array", "items": _OBJECT},
            "selectionBehavior": {"type": "string", "enum": ["at-most-one", "any"]},
            "overrideReasons": {"type": "array", "items": _OBJECT},
            "links": {"type": "array", "items": _OBJECT},
        },
    },
    "CdsServiceResponse": {
        "type": "object",
        "required": ["cards"],
        "properties": {
            "cards": {"type": "array", "items": {"$ref": _REF + "Card"}},
            "systemActions": {"type": "array", "items": _OBJECT},
        },
    },
    "Discovery": {
        "type": "object",
        "required": ["services"],
        "properties": {
            "services": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["hook", "description", "id"],
                    "properties": {
                        "hook": {"type": "string"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "id": {"type": "string"},
                        "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
                        "usageRequirements": {"type": "string"},
                    },
                },
            }
        },
    },
    "Feedback": {
        "type": "object",
        "required": ["feedback"],
        "properties": {"feedback": {"type": "array", "minItems": 1, "items": {"$ref": _REF + "FeedbackItem"}}},
    },
    "FeedbackItem": _FEEDBACK_ITEM,
    "PatientViewContext": _PATIENT_VIEW_CONTEXT,
    "OrderSignContext": _ORDER_SIGN_CONTEXT,
    "OrderSelectContext": _ORDER_SELECT_CONTEXT,
}

_ERRORS = {
    "400": "The body is not a valid CDS Hooks call (``fields`` names the problems)",
    "401": "Missing or unacceptable JWT (no detail given)",
    "404": "No CDS service with this id",
    "412": "Required FHIR data could be had neither from prefetch nor from the FHIR server",
    "413": "Request body larger than the configured limit",
}


_JWT_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "CDS Hooks 2.0 client JWT (ES384/RS384/ES256/RS256) with iss, aud, exp, iat, jti",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json({"$ref": _REF + "Error"}, _ERRORS[code]) for code in codes}


def _context(hook: str) -> dict[str, Any]:
    return {"$ref": _REF + _CONTEXTS[hook]} if hook in _CONTEXTS else _OBJECT


def _hook_request(hooks: list[str]) -> dict[str, Any]:
    """The request body for the hooks one service id answers; with several, the context follows the hook."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        "description": "fhirServer is required when fhirAuthorization is given (CDS Hooks invariant cds-r-1)",
        "properties": {
            "hook": {"type": "string", "enum": hooks},
            "hookInstance": {"type": "string", "pattern": HOOK_INSTANCE_PATTERN},
            "fhirServer": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": MAX_URL_CHARS},
            "fhirAuthorization": {"$ref": _REF + "FhirAuthorization"},
            "context": _context(hooks[0]) if len(hooks) == 1 else _OBJECT,
            "prefetch": {
                "type": "object",
                "description": f"keys are 1 to {MAX_NAME_CHARS} characters",
                "additionalProperties": {"nullable": True},
            },
            "extension": _OBJECT,
        },
    }
    # cds-r-1 in OpenAPI 3.0 terms: either no fhirAuthorization, or a fhirServer with it.
    schema["anyOf"] = [{"not": {"required": ["fhirAuthorization"]}}, {"required": ["fhirServer"]}]
    if len(hooks) > 1:
        schema["oneOf"] = [{"properties": {"hook": {"enum": [h]}, "context": _context(h)}} for h in hooks]
    return schema


def _service_path(definition: ServiceDefinition, auth: list[Any]) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"call-{definition.id}",
            "summary": definition.title,
            "description": definition.description,
            "security": auth,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _hook_request([definition.hook])}},
            },
            "responses": {
                "200": _json({"$ref": _REF + "CdsServiceResponse"}, "Cards and system actions"),
                **_errors("400", "401", "404", "412", "413"),
            },
        }
    }


def _feedback_path(service_id: str, auth: list[Any]) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"feedback-{service_id}",
            "summary": "What the clinician did with the cards",
            "security": auth,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": _REF + "Feedback"}}}},
            "responses": {"200": _json(_OBJECT, "Feedback recorded"), **_errors("400", "401", "404", "413")},
        }
    }


def openapi_document(
    registry: ServiceRegistry,
    *,
    title: str = "CDS Hooks services",
    version: str = "1.0.0",
    authenticated: bool = False,
    discovery_requires_auth: bool = False,
    feedback: bool = False,
) -> dict[str, Any]:
    """OpenAPI 3.0 for discovery, every service's call (and feedback) endpoint, and this document."""
    bearer: list[Any] = [{"cdsHooksJwt": []}] if authenticated else []
    paths: dict[str, Any] = {
        "/cds-services": {
            "get": {
                "operationId": "discovery",
                "summary": "The CDS services offered here (CDS Hooks 2.0 discovery)",
                "security": bearer if discovery_requires_auth else [],
                "responses": {"200": _json({"$ref": _REF + "Discovery"}, "Discovery document"), **_errors("401")},
            }
        },
        "/openapi.json": {
            "get": {"operationId": "openapi", "security": [], "responses": {"200": _json(_OBJECT, "This document")}}
        },
    }
    for definition in registry.definitions:
        paths[f"/cds-services/{definition.id}"] = _service_path(definition, bearer)
        if feedback:
            paths[f"/cds-services/{definition.id}/feedback"] = _feedback_path(definition.id, bearer)
    components: dict[str, Any] = {"schemas": _SCHEMAS}
    if authenticated:
        components["securitySchemes"] = {"cdsHooksJwt": _JWT_SCHEME}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": components,
    }
