"""Checks every CDS Hooks response before it leaves: cards, suggestions, actions, links, systemActions.

Rules from CDS Hooks 2.0 §CDS Service Response and §Use of JSON: summary under 140 characters, indicator
info|warning|critical, source.label, selectionBehavior whenever there are suggestions, override reasons with
code/system/display, and no ``null``, ``""``, ``[]`` or ``{}`` anywhere except an empty ``cards`` list.
Our own output is held to the strictest reading, so unknown keys are rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

SUMMARY_MAX_CHARS = 139  # "<140-character summary"

_not_blank = validate.Length(min=1)
_absolute_url = fields.Url(schemes={"http", "https"}, require_tld=False)


class ResponseInvalid(Exception):
    """Our own response broke the spec: a defect in the service, never the client's fault."""

    def __init__(self, problems: Mapping[str, Any]) -> None:
        super().__init__(f"response violates CDS Hooks 2.0: {dict(problems)}")
        self.problems = problems


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CodingSchema(_Strict):
    """A Coding as CDS Hooks defines it."""

    code = fields.String(required=True, validate=_not_blank)
    system = fields.String(required=True, validate=_not_blank)
    display = fields.String(validate=_not_blank)


class OverrideReasonSchema(CodingSchema):
    """Override reasons MUST carry a display."""

    display = fields.String(required=True, validate=_not_blank)


class SourceSchema(_Strict):
    """Card source."""

    label = fields.String(required=True, validate=_not_blank)
    url = fields.Url(schemes={"http", "https"}, require_tld=False)
    icon = fields.Url(schemes={"http", "https"}, require_tld=False)
    topic = fields.Nested(CodingSchema)


class ActionSchema(_Strict):
    """A suggestion or system action."""

    type = fields.String(required=True, validate=validate.OneOf(["create", "update", "delete"]))
    description = fields.String(required=True, validate=_not_blank)
    resource = fields.Dict()
    resourceId = fields.String(validate=_not_blank)

    @validates_schema
    def _resource_when_needed(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("type") in ("create", "update") and not isinstance(data.get("resource"), dict):
            raise ValidationError("create and update actions carry the resource", "resource")
        resource = data.get("resource")
        if isinstance(resource, dict) and not resource.get("resourceType"):
            raise ValidationError("must be a FHIR resource with resourceType", "resource")


class SuggestionSchema(_Strict):
    """A suggestion: a labelled set of actions."""

    label = fields.String(required=True, validate=_not_blank)
    uuid = fields.UUID()
    isRecommended = fields.Boolean()
    actions = fields.List(fields.Nested(ActionSchema), validate=_not_blank)


class LinkSchema(_Strict):
    """A link to a web page or SMART app."""

    label = fields.String(required=True, validate=_not_blank)
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    type = fields.String(required=True, validate=validate.OneOf(["absolute", "smart"]))
    appContext = fields.String(validate=_not_blank)
    autolaunchable = fields.Boolean()

    @validates_schema
    def _app_context_only_for_smart(self, data: dict[str, Any], **_: Any) -> None:
        if "appContext" in data and data.get("type") != "smart":
            raise ValidationError("only valid for smart links", "appContext")


class CardSchema(_Strict):
    """A card (CDS Hooks 2.0 §Card Attributes)."""

    uuid = fields.UUID()
    summary = fields.String(required=True, validate=validate.Length(min=1, max=SUMMARY_MAX_CHARS))
    detail = fields.String(validate=_not_blank)
    indicator = fields.String(required=True, validate=validate.OneOf(["info", "warning", "critical"]))
    source = fields.Nested(SourceSchema, required=True)
    suggestions = fields.List(fields.Nested(SuggestionSchema), validate=_not_blank)
    selectionBehavior = fields.String(validate=validate.OneOf(["at-most-one", "any"]))
    overrideReasons = fields.List(fields.Nested(OverrideReasonSchema), validate=_not_blank)
    links = fields.List(fields.Nested(LinkSchema), validate=_not_blank)
    extension = fields.Dict(validate=_not_blank)

    @validates_schema
    def _suggestion_rules(self, data: dict[str, Any], **_: Any) -> None:
        suggestions = data.get("suggestions")
        if suggestions and "selectionBehavior" not in data:
            raise ValidationError("is required when suggestions are present", "selectionBehavior")
        recommended = sum(1 for s in suggestions or [] if s.get("isRecommended"))
        if data.get("selectionBehavior") == "at-most-one" and recommended > 1:
            raise ValidationError("at-most-one allows one recommended suggestion", "suggestions")


class ResponseSchema(_Strict):
    """The whole hook response."""

    cards = fields.List(fields.Nested(CardSchema), required=True)
    systemActions = fields.List(fields.Nested(ActionSchema), validate=_not_blank)


class ServiceSchema(_Strict):
    """One entry of the discovery document."""

    hook = fields.String(required=True, validate=_not_blank)
    title = fields.String(validate=_not_blank)
    description = fields.String(required=True, validate=_not_blank)
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._\-]+$"))
    prefetch = fields.Dict(keys=fields.String(), values=fields.String(), validate=_not_blank)
    usageRequirements = fields.String(validate=_not_blank)
    extension = fields.Dict(validate=_not_blank)


class DiscoverySchema(_Strict):
    """The discovery document."""

    services = fields.List(fields.Nested(ServiceSchema), required=True)


RESPONSE_SCHEMA = ResponseSchema()
DISCOVERY_SCHEMA = DiscoverySchema()


def empty_values(value: Any, path: str = "") -> list[str]:
    """Paths of every null or empty value (§Use of JSON); FHIR resources inside actions included."""
    if value is None or value == "" or value == [] or value == {}:
        return [path or "(root)"]
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found.extend(empty_values(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(empty_values(item, f"{path}[{index}]"))
    return found


def _check(schema: Schema, document: Mapping[str, Any], allowed_empty: str) -> None:
    problems: dict[str, Any] = dict(schema.validate(document))
    empties = [p for p in empty_values(document) if p != allowed_empty]
    if empties:
        problems["empty"] = empties
    if problems:
        raise ResponseInvalid(problems)


def check_response(document: Mapping[str, Any]) -> None:
    """Raise ResponseInvalid unless ``document`` is a spec-valid hook response."""
    _check(RESPONSE_SCHEMA, document, allowed_empty="cards")


def check_discovery(document: Mapping[str, Any]) -> None:
    """Raise ResponseInvalid unless ``document`` is a spec-valid discovery document."""
    _check(DISCOVERY_SCHEMA, document, allowed_empty="services")
