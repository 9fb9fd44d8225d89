"""The card model: valid by construction, the same wire form as its schema loads, and the source of the OpenAPI card."""

from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT4

from cds_hooks import (
    Action,
    ActionType,
    Card,
    HookResponse,
    Indicator,
    Link,
    LinkType,
    OverrideReason,
    SelectionBehavior,
    ServiceRegistry,
    Source,
    Suggestion,
    load_response,
    openapi_document,
)
from cds_hooks.cards import SUMMARY_MAX_CHARS
from cds_hooks.response import ResponseInvalid

ORDER = Action(type=ActionType.CREATE, description="Order Mg", resource={"resourceType": "ServiceRequest"})


def card(**changes: Any) -> Card:
    """A spec-valid card with one suggestion, one override reason and one link, with ``changes``."""
    fields: dict[str, Any] = {
        "uuid": "5c4a1c6c-8d1e-4b8f-9a43-2a4d8ec0b0a1",
        "summary": "Magnesium low",
        "indicator": Indicator.WARNING,
        "source": Source(label="Fasciculation screen", url="https://example.org/kb"),
        "override_reasons": (OverrideReason(code="done", system="https://example.org/cs", display="Done"),),
        "extension": {"org.example": {"ruleId": "lab.magnesium.low"}},
        "suggestions": (Suggestion(label="Order magnesium", actions=(ORDER,)),),
        "selection_behavior": SelectionBehavior.ANY,
        "links": (Link(label="Guideline", url="https://example.org/g", type=LinkType.ABSOLUTE),),
    }
    return Card(**{**fields, **changes})


def test_wire_form_uses_spec_names_in_declaration_order_and_leaves_out_none() -> None:
    document = card(uuid=None).to_json()
    assert list(document) == [
        "summary",
        "indicator",
        "source",
        "overrideReasons",
        "extension",
        "suggestions",
        "selectionBehavior",
        "links",
    ]
    assert document["suggestions"][0] == {"label": "Order magnesium", "actions": [ORDER.to_json()]}


def test_the_schema_loads_the_wire_form_back_into_the_same_objects() -> None:
    response = HookResponse(cards=(card(),))
    assert load_response(response.to_json()) == response


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": "x" * (SUMMARY_MAX_CHARS + 1)},
        {"summary": ""},
        {"uuid": "not-a-uuid"},
        {"uuid": "5c4a1c6c-8d1e-4b8f-9a43-2a4d8ec0b0a"},
        {"uuid": "5c4a1c6c-8d1e-4b8f-9a43-2a4d8ec0b0a1x"},
        {"selection_behavior": None},
        {"links": ()},
        {"extension": {}},
        {"extension": {"org.example": {"ruleId": ""}}},
    ],
    ids=repr,
)
def test_an_invalid_card_cannot_be_built(changes: dict[str, Any]) -> None:
    with pytest.raises(ResponseInvalid):
        card(**changes)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Action(type=ActionType.UPDATE, description="Change it"),
        lambda: Action(type=ActionType.CREATE, description="Order", resource={"status": "draft"}),
        lambda: Action(type=ActionType.CREATE, description="Order", resource={"resourceType": "X", "note": []}),
        lambda: Link(label="App", url="https://example.org/a", type=LinkType.ABSOLUTE, app_context="x=1"),
        lambda: Link(label="App", url="ftp://example.org/a", type=LinkType.SMART),
        lambda: Source(label=""),
        lambda: OverrideReason(code="c", system="s", display=""),
    ],
)
def test_invalid_parts_cannot_be_built(build: Any) -> None:
    with pytest.raises(ResponseInvalid):
        build()


def test_at_most_one_allows_one_recommended_suggestion() -> None:
    recommended = Suggestion(label="Order", is_recommended=True, actions=(ORDER,))
    with pytest.raises(ResponseInvalid):
        card(selection_behavior=SelectionBehavior.AT_MOST_ONE, suggestions=(recommended, recommended))


def test_replace_checks_again() -> None:
    with pytest.raises(ResponseInvalid):
        dataclasses.replace(card(), summary="")


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": ""},
        {"links": ()},
        {"uuid": "not-a-uuid"},
        {"suggestions": (Suggestion(label="Order", actions=(ORDER,)),), "selection_behavior": None},
        {"extension": {"org.example": {"ruleId": ""}}},
    ],
    ids=repr,
)
def test_evolve_checks_the_changes_and_the_rules_across_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(ResponseInvalid):
        card().evolve(**changes)


def test_evolve_gives_what_replace_gives_and_leaves_the_original_alone() -> None:
    original = card()
    link = Link(label="Work-up", url="https://example.org/w", type=LinkType.SMART, app_context="finding=x")
    evolved = original.evolve(links=(*(original.links or ()), link))
    assert evolved == dataclasses.replace(original, links=(*(original.links or ()), link))
    assert original.links is not None and len(original.links) == 1
    with pytest.raises(TypeError):
        original.evolve(colour="red")


def test_the_published_card_schema_is_the_model() -> None:
    document = openapi_document(ServiceRegistry([]))
    schemas = document["components"]["schemas"]
    assert schemas["Card"]["properties"]["summary"]["maxLength"] == SUMMARY_MAX_CHARS
    assert schemas["Card"]["additionalProperties"] is False
    registry = Registry().with_resource("urn:openapi", DRAFT4.create_resource({"components": {"schemas": schemas}}))
    validator = jsonschema.Draft4Validator(
        {"$ref": "urn:openapi#/components/schemas/CdsServiceResponse"}, registry=registry
    )
    assert validator.is_valid(HookResponse(cards=(card(),)).to_json())
    assert not validator.is_valid({"cards": [{**card().to_json(), "summary": "x" * (SUMMARY_MAX_CHARS + 1)}]})


@pytest.mark.parametrize(
    "text",
    [
        "5c4a1c6c-8d1e-4b8f-9a43-2a4d8ec0b0a1",
        "5C4A1C6C-8D1E-4B8F-9A43-2A4D8EC0B0A1",
        "{5c4a1c6c-8d1e-4b8f-9a43-2a4d8ec0b0a1}",
        "urn:uuid:5c4a1c6c-8d1e-4b8f-9a43-2a4d8ec0b0a1",
        "5c4a1c6c8d1e4b8f9a432a4d8ec0b0a1",
    ],
)
def test_a_card_uuid_is_what_python_reads_as_a_uuid(text: str) -> None:
    """The canonical-form fast path accepts no less than ``uuid.UUID`` did."""
    assert card(uuid=text).uuid == text
