"""Checks a CDS Hooks response that did not come through the card model, and the discovery document.

The response rules live once, in the card model (``cds_hooks.cards``); its schema loads a plain document into
the model, so checking it is loading it. §Use of JSON (no ``null``, ``""``, ``[]`` or ``{}`` except an empty
``cards`` list) is checked over the whole document as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate

from cds_hooks.cards import RESPONSE_SCHEMA, HookResponse, empty_values
from cds_hooks.model import ResponseInvalid, StrictSchema, filled_dict

__all__ = ["ResponseInvalid", "as_response", "check_discovery", "check_response", "empty_values", "load_response"]

_not_blank = validate.Length(min=1)


class ServiceSchema(StrictSchema):
    """One entry of the discovery document."""

    hook = fields.String(required=True, validate=_not_blank)
    title = fields.String(validate=_not_blank)
    description = fields.String(required=True, validate=_not_blank)
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._\-]+$"))
    prefetch = filled_dict(keys=fields.String(), values=fields.String())
    usageRequirements = fields.String(validate=_not_blank)
    # CDS Hooks 3.0 (ballot): the semantic version of CDS Hooks the service implements, and of its hook.
    version = fields.String(validate=validate.Regexp(r"^\d+\.\d+\.\d+$"))
    hookVersion = fields.String(validate=_not_blank)
    extension = filled_dict()


class DiscoverySchema(StrictSchema):
    """The discovery document."""

    services = fields.List(fields.Nested(ServiceSchema), required=True)


DISCOVERY_SCHEMA = DiscoverySchema()


def _empty_problems(document: Mapping[str, Any], allowed_empty: str) -> dict[str, Any]:
    empties = [p for p in empty_values(document) if p != allowed_empty]
    return {"empty": empties} if empties else {}


def load_response(document: Mapping[str, Any]) -> HookResponse:
    """The hook response ``document`` as the card model; ResponseInvalid unless it is spec-valid."""
    problems = _empty_problems(document, "cards")
    try:
        response: HookResponse = RESPONSE_SCHEMA.load(document)
    except ValidationError as exc:
        raise ResponseInvalid({**exc.normalized_messages(), **problems}) from exc  # type: ignore[no-untyped-call]
    if problems:
        raise ResponseInvalid(problems)
    return response


def as_response(answer: HookResponse | Mapping[str, Any]) -> HookResponse:
    """A handler's answer as the model: a model response is valid by construction, a document is checked."""
    return answer if isinstance(answer, HookResponse) else load_response(answer)


def check_response(document: Mapping[str, Any]) -> None:
    """Raise ResponseInvalid unless ``document`` is a spec-valid hook response."""
    load_response(document)


def check_discovery(document: Mapping[str, Any]) -> None:
    """Raise ResponseInvalid unless ``document`` is a spec-valid discovery document."""
    problems = {**DISCOVERY_SCHEMA.validate(document), **_empty_problems(document, "services")}
    if problems:
        raise ResponseInvalid(problems)
