"""The CDS Hooks 2.0 response as typed, immutable objects: what handlers return and the blueprint sends.

Rules from CDS Hooks 2.0 §CDS Service Response and §Use of JSON: summary under 140 characters, indicator
info|warning|critical, source.label, selectionBehavior whenever there are suggestions, override reasons with
code/system/display, and no ``null``, ``""``, ``[]`` or ``{}`` anywhere except an empty ``cards`` list.
Each field is declared once (``cds_hooks.model``): the same declaration checks the constructor, names the wire key,
and gives the schema that checks plain JSON and feeds the OpenAPI document.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from marshmallow import ValidationError, fields, validate

from cds_hooks.model import WireModel, filled_dict, nested, nested_list, schema_of, wire, wire_model

SUMMARY_MAX_CHARS = 139  # "<140-character summary"


class Indicator(StrEnum):
    """How urgent a card is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class SelectionBehavior(StrEnum):
    """How many of a card's suggestions the user may accept."""

    AT_MOST_ONE = "at-most-one"
    ANY = "any"


class ActionType(StrEnum):
    """What an action does to its resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class LinkType(StrEnum):
    """A plain web page or a SMART app."""

    ABSOLUTE = "absolute"
    SMART = "smart"


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_text(value: str) -> None:
    if _CANONICAL_UUID.fullmatch(value):  # the form we write: no need to build a UUID to know it is one
        return
    try:
        uuid.UUID(value)
    except ValueError as exc:
        raise ValidationError("Not a valid UUID.") from exc


def empty_values(value: Any, path: str = "") -> list[str]:
    """Paths of every null or empty value (§Use of JSON), FHIR resources and extensions included."""
    if value is None or value == "" or value == [] or value == {}:
        return [path or "(root)"]
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in empty_values(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list | tuple):
        return [p for index, item in enumerate(value) for p in empty_values(item, f"{path}[{index}]")]
    return []


_NOT_BLANK = validate.Length(min=1)


def _text() -> fields.String:
    return fields.String(required=True, validate=_NOT_BLANK)


def _optional_text() -> fields.String:
    return fields.String(validate=_NOT_BLANK)


def _url(**options: Any) -> fields.Url:
    return fields.Url(schemes={"http", "https"}, require_tld=False, **options)


def _uuid() -> fields.String:
    return fields.String(validate=_uuid_text, metadata={"format": "uuid"})


@wire_model
@dataclass(frozen=True, kw_only=True)
class Coding(WireModel):
    """A Coding as CDS Hooks defines it."""

    code: str = field(metadata=wire(_text()))
    system: str = field(metadata=wire(_text()))
    display: str | None = field(default=None, metadata=wire(_optional_text()))


@wire_model
@dataclass(frozen=True, kw_only=True)
class OverrideReason(WireModel):
    """A reason the user may give for overriding a card: a Coding that MUST carry a display."""

    code: str = field(metadata=wire(_text()))
    system: str = field(metadata=wire(_text()))
    display: str = field(metadata=wire(_text()))


@wire_model
@dataclass(frozen=True, kw_only=True)
class Source(WireModel):
    """Where a card's information comes from."""

    label: str = field(metadata=wire(_text()))
    url: str | None = field(default=None, metadata=wire(_url()))
    icon: str | None = field(default=None, metadata=wire(_url()))
    topic: Coding | None = field(default=None, metadata=wire(nested(Coding)))


@wire_model
@dataclass(frozen=True, kw_only=True)
class Action(WireModel):
    """A suggestion's or system action's change to one FHIR resource."""

    type: ActionType = field(metadata=wire(fields.Enum(ActionType, required=True, by_value=True)))
    description: str = field(metadata=wire(_text()))
    resource: Mapping[str, Any] | None = field(default=None, metadata=wire(fields.Dict()))
    resource_id: str | None = field(
        default=None, metadata=wire(fields.String(data_key="resourceId", validate=_NOT_BLANK))
    )

    def problems(self) -> dict[str, list[str]]:
        """create and update carry a FHIR resource, and no resource holds an empty value."""
        if self.type in (ActionType.CREATE, ActionType.UPDATE) and self.resource is None:
            return {"resource": ["create and update actions carry the resource"]}
        if self.resource is not None and not self.resource.get("resourceType"):
            return {"resource": ["must be a FHIR resource with resourceType"]}
        empty = empty_values(self.resource, "resource") if self.resource is not None else []
        return {"resource": [f"empty value at {p}" for p in empty]} if empty else {}


@wire_model
@dataclass(frozen=True, kw_only=True)
class Suggestion(WireModel):
    """A labelled set of actions the user may accept."""

    label: str = field(metadata=wire(_text()))
    uuid: str | None = field(default=None, metadata=wire(_uuid()))
    is_recommended: bool | None = field(default=None, metadata=wire(fields.Boolean(data_key="isRecommended")))
    actions: tuple[Action, ...] | None = field(default=None, metadata=wire(nested_list(Action, validate=_NOT_BLANK)))


@wire_model
@dataclass(frozen=True, kw_only=True)
class Link(WireModel):
    """A link to a web page or a SMART app."""

    label: str = field(metadata=wire(_text()))
    url: str = field(metadata=wire(_url(required=True)))
    type: LinkType = field(metadata=wire(fields.Enum(LinkType, required=True, by_value=True)))
    app_context: str | None = field(
        default=None, metadata=wire(fields.String(data_key="appContext", validate=_NOT_BLANK))
    )
    autolaunchable: bool | None = field(default=None, metadata=wire(fields.Boolean()))

    def problems(self) -> dict[str, list[str]]:
        """appContext belongs to SMART links only."""
        if self.app_context is not None and self.type != LinkType.SMART:
            return {"appContext": ["only valid for smart links"]}
        return {}


@wire_model
@dataclass(frozen=True, kw_only=True)
class Card(WireModel):
    """A card (CDS Hooks 2.0 §Card Attributes); ``extension`` values may be model objects of the application."""

    uuid: str | None = field(default=None, metadata=wire(_uuid()))
    summary: str = field(metadata=wire(fields.String(required=True, validate=validate.Length(1, SUMMARY_MAX_CHARS))))
    detail: str | None = field(default=None, metadata=wire(_optional_text()))
    indicator: Indicator = field(metadata=wire(fields.Enum(Indicator, required=True, by_value=True)))
    source: Source = field(metadata=wire(nested(Source, required=True)))
    override_reasons: tuple[OverrideReason, ...] | None = field(
        default=None, metadata=wire(nested_list(OverrideReason, data_key="overrideReasons", validate=_NOT_BLANK))
    )
    extension: Mapping[str, Any] | None = field(default=None, metadata=wire(filled_dict()))
    suggestions: tuple[Suggestion, ...] | None = field(
        default=None, metadata=wire(nested_list(Suggestion, validate=_NOT_BLANK))
    )
    selection_behavior: SelectionBehavior | None = field(
        default=None, metadata=wire(fields.Enum(SelectionBehavior, by_value=True, data_key="selectionBehavior"))
    )
    links: tuple[Link, ...] | None = field(default=None, metadata=wire(nested_list(Link, validate=_NOT_BLANK)))

    def problems(self) -> dict[str, list[str]]:
        """selectionBehavior comes with suggestions; at-most-one allows one recommended suggestion."""
        if self.suggestions and self.selection_behavior is None:
            return {"selectionBehavior": ["is required when suggestions are present"]}
        recommended = sum(1 for s in self.suggestions or () if s.is_recommended)
        if self.selection_behavior == SelectionBehavior.AT_MOST_ONE and recommended > 1:
            return {"suggestions": ["at-most-one allows one recommended suggestion"]}
        plain = {k: v for k, v in (self.extension or {}).items() if not isinstance(v, WireModel)}
        empty = empty_values(plain, "extension") if plain else []
        return {"extension": [f"empty value at {p}" for p in empty]} if empty else {}


@wire_model
@dataclass(frozen=True, kw_only=True)
class HookResponse(WireModel):
    """The whole hook response: cards (possibly none) and system actions."""

    cards: tuple[Card, ...] = field(metadata=wire(nested_list(Card, required=True)))
    system_actions: tuple[Action, ...] | None = field(
        default=None, metadata=wire(nested_list(Action, data_key="systemActions", validate=_NOT_BLANK))
    )


RESPONSE_SCHEMA = schema_of(HookResponse)
