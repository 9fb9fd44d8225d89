"""Marshmallow schemas for what a CDS client sends: the hook request and its contexts (feedback: ``feedback``).

Inbound schemas ignore unknown keys (clients add extensions); every loaded object is a frozen dataclass.
Field rules follow CDS Hooks 2.0 §Calling a CDS Service, §Feedback and the CDS Hooks Library hook pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from cds_hooks.errors import BadRequest
from cds_hooks.limits import (
    B64TOKEN_PATTERN,
    FHIR_ID_PATTERN,
    FHIR_SERVER_PATTERN,
    HOOK_INSTANCE_PATTERN,
    MAX_ACCESS_TOKEN_CHARS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_URI_CHARS,
    MAX_URL_CHARS,
    RELATIVE_REFERENCE_PATTERN,
    FullMatch,
    between,
    longest,
)

_fhir_id = FullMatch(FHIR_ID_PATTERN, error="must be a FHIR id (letters, digits, '-', '.'; 1-64)")
_reference = FullMatch(RELATIVE_REFERENCE_PATTERN, error="must be a reference such as Practitioner/123")
_b64token = FullMatch(B64TOKEN_PATTERN, error="must be an RFC 6750 bearer token (letters, digits, -._~+/ then =)")
_not_blank = validate.Length(min=1, error="must not be empty")
_name = between(1, MAX_NAME_CHARS)


def _short_keys(value: Mapping[str, Any]) -> None:
    """Prefetch keys are names: bounded, and reported without echoing an oversized key back."""
    if any(not 1 <= len(key) <= MAX_NAME_CHARS for key in value):
        raise ValidationError(f"keys must be 1 to {MAX_NAME_CHARS} characters")


_fhir_server = FullMatch(
    FHIR_SERVER_PATTERN, error="must be an http(s) FHIR base URL without userinfo, query or fragment"
)
_hook_instance = FullMatch(HOOK_INSTANCE_PATTERN, error="must be a UUID-like token")


@dataclass(frozen=True)
class FhirAuthorization:
    """OAuth 2.0 bearer token the client lends the service for its FHIR server."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


@dataclass(frozen=True)
class HookRequest:
    """A validated hook call; ``prefetch`` keeps JSON ``null`` as ``None`` and leaves absent keys out."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    prefetch: Mapping[str, Any] = field(default_factory=dict)

    @property
    def access_token(self) -> str | None:
        """Bearer token for the FHIR server, when the client lent one."""
        return self.fhir_authorization.access_token if self.fhir_authorization else None


class FhirAuthorizationSchema(Schema):
    """``fhirAuthorization`` (CDS Hooks 2.0 §Passing the Access Token to the CDS Service)."""

    class Meta:
        unknown = EXCLUDE

    access_token = fields.String(required=True, validate=[between(1, MAX_ACCESS_TOKEN_CHARS), _b64token])
    token_type = fields.String(required=True, validate=validate.OneOf(["Bearer", "bearer"]))
    expires_in = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    scope = fields.String(required=True, validate=longest(MAX_TEXT_CHARS))
    subject = fields.String(required=True, validate=longest(MAX_URI_CHARS))
    patient = fields.String(validate=_fhir_id)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> FhirAuthorization:
        return FhirAuthorization(**data)


class HookRequestSchema(Schema):
    """The body of ``POST /cds-services/{id}``; the context is checked per hook afterwards."""

    class Meta:
        unknown = EXCLUDE

    # Invariant cds-r-1 as JSON Schema for the OpenAPI document (checked in code below).
    json_schema_invariants: ClassVar[dict[str, Any]] = {
        "description": "fhirServer is required when fhirAuthorization is given (CDS Hooks invariant cds-r-1)",
        "anyOf": [{"not": {"required": ["fhirAuthorization"]}}, {"required": ["fhirServer"]}],
    }

    hook = fields.String(required=True, validate=_name)
    hookInstance = fields.String(required=True, validate=_hook_instance)
    # One pattern for the server and the published schema (issue 23 row 13): they accept the same base URLs.
    fhirServer = fields.String(validate=[longest(MAX_URL_CHARS), _fhir_server], metadata={"format": "uri"})
    fhirAuthorization = fields.Nested(FhirAuthorizationSchema)
    context = fields.Dict(required=True)
    prefetch = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        validate=_short_keys,
        metadata={"description": f"keys are 1 to {MAX_NAME_CHARS} characters"},
    )

    @validates_schema
    def _authorization_needs_server(self, data: dict[str, Any], **_: Any) -> None:
        # CDS Hooks 2.0: fhirServer is REQUIRED when fhirAuthorization is present (invariant cds-r-1).
        if "fhirAuthorization" in data and "fhirServer" not in data:
            raise ValidationError("is required when fhirAuthorization is given", "fhirServer")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> HookRequest:
        return HookRequest(
            hook=data["hook"],
            hook_instance=data["hookInstance"],
            context=data["context"],
            fhir_server=data["fhirServer"].rstrip("/") if "fhirServer" in data else None,
            fhir_authorization=data.get("fhirAuthorization"),
            prefetch=data.get("prefetch") or {},
        )


# What _must_be_bundle checks, as JSON Schema for the OpenAPI document.
_BUNDLE_SHAPE = {"required": ["resourceType"], "properties": {"resourceType": {"type": "string", "enum": ["Bundle"]}}}


def _must_be_bundle(value: Mapping[str, Any]) -> None:
    """A context Bundle (``draftOrders``) must be a FHIR Bundle whose entries are objects.

    Read tolerantly: ``type`` may be missing (the CDS Hooks Sandbox sends none) and a lone entry may come as an
    object instead of an array.
    """
    if value.get("resourceType") != "Bundle":
        raise ValidationError("must be a FHIR Bundle")
    entries = value.get("entry", [])
    entries = [entries] if isinstance(entries, dict) else entries
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValidationError("entry must be a list of objects")


class PatientViewContextSchema(Schema):
    """``patient-view`` context (CDS Hooks Library 1.0.1)."""

    class Meta:
        unknown = EXCLUDE

    userId = fields.String(required=True, validate=_reference)
    patientId = fields.String(required=True, validate=_fhir_id)
    encounterId = fields.String(validate=_fhir_id)


class OrderSignContextSchema(PatientViewContextSchema):
    """``order-sign`` context: the draft orders about to be signed."""

    draftOrders = fields.Dict(required=True, validate=_must_be_bundle, metadata=_BUNDLE_SHAPE)


class OrderSelectContextSchema(OrderSignContextSchema):
    """``order-select`` context: draft orders plus the ones just selected."""

    selections = fields.List(fields.String(validate=_reference), required=True, validate=_not_blank)


CONTEXT_SCHEMAS: dict[str, Schema] = {
    "patient-view": PatientViewContextSchema(),
    "order-select": OrderSelectContextSchema(),
    "order-sign": OrderSignContextSchema(),
}


HOOK_REQUEST_SCHEMA = HookRequestSchema()


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested error messages into ``{"context.patientId": [...]}``."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = str(key) if key != "_schema" else ""
            path = f"{prefix}.{name}" if prefix and name else (prefix or name or "body")
            flat.update(flatten_messages(value, path))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "body": list(messages)}
    if isinstance(messages, list):
        flat = {}
        for item in messages:
            flat.update(flatten_messages(item, prefix))
        return flat
    return {prefix or "body": [str(messages)]}


def load_hook_request(body: Any, served_hooks: frozenset[str]) -> HookRequest:
    """Validate a hook call body (and its hook-specific context) or raise BadRequest naming the fields."""
    if not isinstance(body, Mapping):
        raise BadRequest("request body must be a JSON object", {"body": ["must be a JSON object"]})
    try:
        request: HookRequest = HOOK_REQUEST_SCHEMA.load(body)
    except ValidationError as exc:
        raise BadRequest("invalid hook request", flatten_messages(exc.messages)) from exc
    if request.hook not in served_hooks:
        allowed = ", ".join(sorted(served_hooks))
        raise BadRequest("hook not served", {"hook": [f"this service answers {allowed}"]})
    schema = CONTEXT_SCHEMAS.get(request.hook)
    if schema is None:
        return request
    try:
        context = schema.load(request.context)
    except ValidationError as exc:
        raise BadRequest("invalid context", flatten_messages(exc.messages, "context")) from exc
    return HookRequest(
        hook=request.hook,
        hook_instance=request.hook_instance,
        context=context,
        fhir_server=request.fhir_server,
        fhir_authorization=request.fhir_authorization,
        prefetch=request.prefetch,
    )
