"""The response checker holds our own cards to CDS Hooks 2.0; the template checker to 2.0 tokens."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.prefetch import check_template, render_template
from cds_hooks.response import ResponseInvalid, check_discovery, check_response, empty_values

CARD: dict[str, Any] = {
    "uuid": "5c4a1c6c-8d1e-4b8f-9a43-2a4d8ec0b0a1",
    "summary": "Magnesium low (1.2 mg/dL, 4 days ago)",
    "indicator": "warning",
    "source": {"label": "Fasciculation screen", "url": "https://example.org/kb"},
    "suggestions": [
        {
            "label": "Order magnesium",
            "uuid": "0e7b1f7e-8f33-4d6e-9a43-2a4d8ec0b0a2",
            "actions": [{"type": "create", "description": "Order Mg", "resource": {"resourceType": "ServiceRequest"}}],
        }
    ],
    "selectionBehavior": "any",
    "overrideReasons": [{"code": "already-addressed", "system": "https://example.org/cs", "display": "Done"}],
    "links": [{"label": "Guideline", "url": "https://example.org/g", "type": "absolute"}],
}


def with_change(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of CARD with one nested value replaced (or removed when value is ...)."""
    import copy

    card = copy.deepcopy(CARD)
    target: Any = card
    for key in path[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return card


def test_good_card_passes() -> None:
    check_response({"cards": [CARD]})
    check_response({"cards": []})


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("summary",), "x" * 140),
        (("summary",), ""),
        (("indicator",), "hard-stop"),
        (("source", "label"), ...),
        (("selectionBehavior",), ...),
        (("selectionBehavior",), "all"),
        (("overrideReasons", "0", "display"), ...),
        (("links", "0", "type"), "relative"),
        (("links",), []),
        (("detail",), None),
        (("suggestions", "0", "actions", "0", "type"), "upsert"),
        (("suggestions", "0", "actions", "0", "description"), ...),
        (("suggestions", "0", "actions", "0", "resource"), ...),
        (("suggestions", "0", "actions", "0", "resource", "status"), ""),
        (("unexpected",), "field"),
    ],
)
def test_spec_violations_are_caught(path: tuple[str, ...], value: Any) -> None:
    with pytest.raises(ResponseInvalid):
        check_response({"cards": [with_change(path, value)]})


def test_two_recommended_suggestions_need_any() -> None:
    card = with_change(("selectionBehavior",), "at-most-one")
    second = dict(card["suggestions"][0], uuid="0e7b1f7e-8f33-4d6e-9a43-2a4d8ec0b0a3")
    card["suggestions"] = [dict(card["suggestions"][0], isRecommended=True), dict(second, isRecommended=True)]
    with pytest.raises(ResponseInvalid):
        check_response({"cards": [card]})


def test_empty_values_are_found_at_every_depth() -> None:
    assert empty_values({"a": {"b": [1, {"c": None}]}, "d": ""}) == ["a.b[1].c", "d"]


def test_discovery_rules() -> None:
    check_discovery({"services": []})
    with pytest.raises(ResponseInvalid):
        check_discovery({"services": [{"hook": "patient-view", "id": "x"}]})


@pytest.mark.parametrize(
    "template",
    [
        "Patient/{{context.patientId}}",
        "Observation?patient={{context.patientId}}&code=http://loinc.org|19123-9",
        "PractitionerRole?_id={{userPractitionerRoleId}}",
    ],
)
def test_cds_hooks_2_tokens_are_accepted(template: str) -> None:
    check_template(template)


@pytest.mark.parametrize(
    "template",
    [
        "MedicationRequest?_id={{context.draftOrders.MedicationRequest.id}}",
        "Observation?date=ge{{today() - 90 days}}",
        "Patient/{{Patient.id}}",
        "Patient/{{context.patientId}",
    ],
)
def test_non_2_0_tokens_are_rejected(template: str) -> None:
    with pytest.raises(ValueError):
        check_template(template)


def test_render_quotes_values_and_derives_user_ids() -> None:
    context = {"patientId": "a b", "userId": "PractitionerRole/r-1"}
    assert render_template("Patient/{{context.patientId}}", context) == "Patient/a%20b"
    assert render_template("PractitionerRole?_id={{userPractitionerRoleId}}", context) == "PractitionerRole?_id=r-1"
