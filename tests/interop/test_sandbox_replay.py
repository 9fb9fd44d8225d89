"""Replay of everything the CDS Hooks Sandbox sent, against the real app with JWT checking on and no network."""

from __future__ import annotations

import logging
from typing import Any

import jwt
import pytest
import requests

from service.cards import CARD_EXTENSION
from service.report import build_report, report_json
from tests.interop.conftest import CAPTURED_TOKEN, SANDBOX_KID, ServedApp, sandbox_json


def rule_ids(document: dict[str, Any]) -> list[str]:
    return [card["extension"][CARD_EXTENSION]["ruleId"] for card in document["cards"]]


def report(served: ServedApp) -> dict[str, Any]:
    return report_json(build_report(served.app.extensions["fasciculation_cds.store"]))


def test_tokens_are_shaped_like_the_sandboxs(served: ServedApp) -> None:
    token = served.signer.token(served.audience(served.url("patient-view")))
    assert jwt.get_unverified_header(token) == CAPTURED_TOKEN["header"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == set(CAPTURED_TOKEN["claims"]) and claims["exp"] - claims["iat"] == 300


def test_the_sandbox_sees_one_service_per_hook(served: ServedApp) -> None:
    discovery = requests.get(f"{served.base}/cds-services", timeout=10).json()["services"]
    # The Sandbox keys services by discoveryURL/id: nothing may collapse.
    kept = {f"{served.base}/cds-services/{entry['id']}": entry["hook"] for entry in discovery}
    assert sorted(kept.values()) == ["order-select", "order-sign", "patient-view"]


def test_patient_view_gives_the_magnesium_first_cards(served: ServedApp, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        response = served.post(served.url("patient-view"), sandbox_json("patient-view.json"))
    assert response.status_code == 200
    document = response.json()
    # Mg 1.1 mg/dL with K 3.1 on omeprazole: correct magnesium first, then potassium.
    assert rule_ids(document) == ["lab.magnesium.low", "lab.potassium.low"]
    # The very card the Sandbox dismissed in the capture (same hookInstance, same rule, same uuid).
    assert document["cards"][0]["uuid"] == sandbox_json("feedback-overridden.json")["feedback"][0]["card"]
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_order_select_speaks_for_the_pyridostigmine_draft(served: ServedApp, caplog: pytest.LogCaptureFixture) -> None:
    body = sandbox_json("order-select.json")
    assert isinstance(body["context"]["draftOrders"]["entry"][0]["resource"]["category"], dict)  # the quirk
    assert "type" not in body["context"]["draftOrders"]
    with caplog.at_level(logging.WARNING):
        response = served.post(served.url("order-select"), body)
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert card["extension"][CARD_EXTENSION]["ruleId"] == "drug.cholinesterase-inhibitor"
    assert "Pyridostigmine" in card["summary"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("service")]


def test_both_feedback_bodies_are_stored_and_reported(served: ServedApp) -> None:
    assert served.post(served.url("patient-view"), sandbox_json("patient-view.json")).status_code == 200
    feedback_url = served.url("patient-view", feedback=True)
    overridden, accepted = sandbox_json("feedback-overridden.json"), sandbox_json("feedback-accepted.json")
    assert served.post(feedback_url, overridden).json() == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "unknownCards": 0,
    }
    # The accepted card came from a Sandbox call that was not captured: kept, and counted as an unknown card.
    assert served.post(feedback_url, accepted).json() == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "unknownCards": 1,
    }
    assert served.post(feedback_url, overridden).json()["duplicates"] == 1  # the Sandbox may post again
    document = report(served)
    magnesium = next(rule for rule in document["rules"] if rule["ruleId"] == "lab.magnesium.low")
    assert (magnesium["shown"], magnesium["accepted"], magnesium["overridden"]) == (1, 0, 1)
    # The Sandbox sends the reason without display: the report names it with the display the card offered.
    (reason,) = magnesium["topOverrideReasons"]
    assert reason["code"] == "already-addressed" and reason["display"] and reason["count"] == 1
    assert document["unknownCardFeedback"] == 1


def test_a_suggestion_taken_then_dismissed_counts_in_both(served: ServedApp) -> None:
    document = served.post(served.url("patient-view"), sandbox_json("patient-view.json")).json()
    card = document["cards"][0]["uuid"]
    accepted = sandbox_json("feedback-accepted.json")
    accepted["feedback"][0]["card"] = card  # the Sandbox's accepted body, on the card it later dismissed
    feedback_url = served.url("patient-view", feedback=True)
    assert served.post(feedback_url, accepted).json()["stored"] == 1
    assert served.post(feedback_url, sandbox_json("feedback-overridden.json")).json()["stored"] == 1
    magnesium = next(rule for rule in report(served)["rules"] if rule["ruleId"] == "lab.magnesium.low")
    assert (magnesium["accepted"], magnesium["overridden"], magnesium["acceptedAndOverridden"]) == (1, 1, 1)
    assert magnesium["acceptanceRate"] == 1.0


def test_a_token_for_another_url_or_used_twice_is_refused(served: ServedApp) -> None:
    body = sandbox_json("patient-view.json")
    assert (
        served.post(
            served.url("patient-view"), body, token=served.signer.token(served.audience(served.url("order-sign")))
        ).status_code
        == 401
    )
    token = served.signer.token(served.audience(served.url("patient-view")))
    assert served.post(served.url("patient-view"), body, token=token).status_code == 200
    assert served.post(served.url("patient-view"), body, token=token).status_code == 401
    assert served.signer.public_jwk()["kid"] == SANDBOX_KID
