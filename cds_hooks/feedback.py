"""Marshmallow schemas for CDS Hooks feedback (CDS Hooks 2.0 §Feedback): what the clinician did with each card.

Unknown keys are ignored (clients add extensions); every loaded item is a frozen ``FeedbackItem``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from cds_hooks.errors import BadRequest
from cds_hooks.limits import (
    MAX_CODE_CHARS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_URI_CHARS,
    NO_NUL_PATTERN,
    FullMatch,
    between,
    longest,
)
from cds_hooks.schemas import flatten_messages

_not_blank = validate.Length(min=1, error="must not be empty")
_name = between(1, MAX_NAME_CHARS)
# Stored values: refused with NUL here and in /openapi.json alike (PostgreSQL text cannot hold it; issue 23 row 13).
_no_nul = FullMatch(NO_NUL_PATTERN, error="must not contain NUL characters")


@dataclass(frozen=True)
class FeedbackItem:
    """One feedback entry: what the clinician did with one card."""

    card: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_code: str | None = None
    override_system: str | None = None
    override_comment: str | None = None


class FeedbackCodingSchema(Schema):
    """The coded reason of an override."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=[between(1, MAX_CODE_CHARS), _no_nul])
    system = fields.String(required=True, validate=[between(1, MAX_URI_CHARS), _no_nul])
    display = fields.String(validate=longest(MAX_URI_CHARS))


class AcceptedSuggestionSchema(Schema):
    """A suggestion the clinician accepted, by its uuid."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=[_name, _no_nul])


class FeedbackOverrideReasonSchema(Schema):
    """Why the clinician overrode a card."""

    class Meta:
        unknown = EXCLUDE

    # CDS Hooks 3.0-ballot invariant cds-fb-3, as JSON Schema for the OpenAPI document (checked in code below).
    json_schema_invariants: ClassVar[dict[str, Any]] = {
        "description": "needs reason or userComment (CDS Hooks invariant cds-fb-3)",
        "anyOf": [{"required": ["reason"]}, {"required": ["userComment"]}],
    }

    reason = fields.Nested(FeedbackCodingSchema)
    userComment = fields.String(validate=longest(MAX_TEXT_CHARS))

    @validates_schema
    def _reason_or_comment(self, data: dict[str, Any], **_: Any) -> None:
        # CDS Hooks 3.0-ballot invariant cds-fb-3: an override reason says something.
        if "reason" not in data and "userComment" not in data:
            raise ValidationError("needs reason or userComment", "overrideReason")


class FeedbackItemSchema(Schema):
    """One element of ``feedback`` (CDS Hooks 2.0 §Feedback)."""

    class Meta:
        unknown = EXCLUDE

    # Invariant cds-fb-2 as JSON Schema for the OpenAPI document (checked in code below).
    json_schema_invariants: ClassVar[dict[str, Any]] = {
        "description": "acceptedSuggestions is required when outcome is accepted (invariant cds-fb-2)",
        "anyOf": [
            {"properties": {"outcome": {"enum": ["overridden"]}}},
            {"required": ["acceptedSuggestions"], "properties": {"acceptedSuggestions": {"minItems": 1}}},
        ],
    }

    card = fields.String(required=True, validate=[_name, _no_nul])
    outcome = fields.String(required=True, validate=validate.OneOf(["accepted", "overridden"]))
    acceptedSuggestions = fields.List(fields.Nested(AcceptedSuggestionSchema))
    overrideReason = fields.Nested(FeedbackOverrideReasonSchema)
    outcomeTimestamp = fields.AwareDateTime(required=True, format="iso")

    @validates_schema
    def _accepted_needs_suggestions(self, data: dict[str, Any], **_: Any) -> None:
        # CDS Hooks 2.0: acceptedSuggestions is REQUIRED for an accepted outcome (invariant cds-fb-2).
        if data.get("outcome") == "accepted" and not data.get("acceptedSuggestions"):
            raise ValidationError("is required when outcome is accepted", "acceptedSuggestions")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> FeedbackItem:
        reason = data.get("overrideReason", {})
        coding = reason.get("reason", {})
        return FeedbackItem(
            card=data["card"],
            outcome=data["outcome"],
            outcome_timestamp=data["outcomeTimestamp"],
            accepted_suggestions=tuple(s["id"] for s in data.get("acceptedSuggestions", [])),
            override_code=coding.get("code"),
            override_system=coding.get("system"),
            override_comment=reason.get("userComment"),
        )


class FeedbackRequestSchema(Schema):
    """The body of ``POST /cds-services/{id}/feedback``."""

    class Meta:
        unknown = EXCLUDE

    feedback = fields.List(fields.Nested(FeedbackItemSchema), required=True, validate=_not_blank)


FEEDBACK_REQUEST_SCHEMA = FeedbackRequestSchema()


def load_feedback(body: Any) -> list[FeedbackItem]:
    """Validate a feedback body or raise BadRequest naming the fields (``feedback.0.outcome``)."""
    if not isinstance(body, Mapping):
        raise BadRequest("request body must be a JSON object", {"body": ["must be a JSON object"]})
    try:
        data = FEEDBACK_REQUEST_SCHEMA.load(body)
    except ValidationError as exc:
        raise BadRequest("invalid feedback", flatten_messages(exc.messages)) from exc
    items: list[FeedbackItem] = data["feedback"]
    return items
