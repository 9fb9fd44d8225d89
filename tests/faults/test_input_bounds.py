"""Hostile strings get 400 naming the field: bearer tokens outside RFC 6750, and oversized names, codes and ids.

Before: a token with CR/LF or non-Latin-1 characters answered 500 and a NUL was forwarded into the outgoing
Authorization header; 1 MB override codes and suggestion ids were stored as given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select

from cds_hooks.limits import MAX_ACCESS_TOKEN_CHARS, MAX_CODE_CHARS, MAX_NAME_CHARS, MAX_URL_CHARS
from service.hooks import SERVICE_ID
from service.store.tables import feedback
from tests.conftest import ROOT, AppFactory
from tests.faults.harness import feedback_item
from tests.loopback import Loopback, loopback_fhir

REQUEST = ROOT / "fixtures" / "requests" / "patient-view" / "neuropathy_low_magnesium.json"
MEGABYTE = "x" * 1_000_000
HOSTILE_TOKENS = {
    "crlf": "abc\r\nX-Injected: 1",
    "lf": "abc\ndef",
    "nul": "abc\x00def",
    "non-latin-1": "токен",
    "latin-1-letter": "t\u00f6ken",
    "space": "abc def",
    "comma": "abc,def",
    "trailing-newline": "abc\n",
    "too-long": "a" * (MAX_ACCESS_TOKEN_CHARS + 1),
    "equals-inside": "ab=cd",
}
GOOD_TOKENS = ["abc", "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "a-b.c_d~e+f/g==", "a" * MAX_ACCESS_TOKEN_CHARS]


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'cds.sqlite3'}"


@pytest.fixture
def client(app_factory: AppFactory, database: str) -> FlaskClient:
    """The real app on its own SQLite file."""
    return app_factory(database_url=database).test_client()


@pytest.fixture
def fhir() -> Iterator[Loopback]:
    """A loopback FHIR server that records every request it gets."""
    with loopback_fhir() as state:
        yield state


def fall_back_body(fhir: Loopback, token: str) -> dict[str, Any]:
    """A patient-view call without prefetch, lending ``token`` for the FHIR server."""
    body: dict[str, Any] = json.loads(REQUEST.read_text())
    body.pop("prefetch")
    body["fhirServer"] = fhir.base_url
    body["fhirAuthorization"] = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    return body


def call(client: FlaskClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST a hook call; the status and the JSON answer."""
    rsp = client.post(f"/cds-services/{SERVICE_ID}", json=body)
    answer: dict[str, Any] = rsp.get_json()
    return rsp.status_code, answer


@pytest.mark.parametrize("token", HOSTILE_TOKENS.values(), ids=HOSTILE_TOKENS.keys())
def test_a_token_outside_rfc_6750_is_400_and_never_sent(client: FlaskClient, fhir: Loopback, token: str) -> None:
    status, answer = call(client, fall_back_body(fhir, token))
    assert status == 400, answer
    assert list(answer["fields"]) == ["fhirAuthorization.access_token"]
    assert fhir.requests == []
    assert token not in json.dumps(answer)


@pytest.mark.parametrize("token", GOOD_TOKENS)
def test_an_rfc_6750_token_is_lent_as_given(client: FlaskClient, fhir: Loopback, token: str) -> None:
    status, _ = call(client, fall_back_body(fhir, token))
    assert status == 412  # the loopback server holds no data; what matters here is the header it was sent
    assert fhir.requests and {r.authorization for r in fhir.requests} == {f"Bearer {token}"}


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("hook", "h" * (MAX_NAME_CHARS + 1), "hook"),
        ("fhirServer", "http://127.0.0.1/" + "p" * MAX_URL_CHARS, "fhirServer"),
        ("prefetch", {"k" * (MAX_NAME_CHARS + 1): None}, "prefetch"),
        ("hookInstance", "abc\n", "hookInstance"),
    ],
)
def test_oversized_request_strings_are_400_naming_the_field(
    client: FlaskClient, where: str, value: Any, field: str
) -> None:
    body = json.loads(REQUEST.read_text())
    body[where] = value
    status, answer = call(client, body)
    assert status == 400
    assert list(answer["fields"]) == [field]
    assert len(json.dumps(answer)) < 1000


def stored_feedback(database: str) -> int:
    """How many feedback rows the database holds."""
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(feedback)) or 0)
    finally:
        engine.dispose()


HUGE_FEEDBACK = {
    "feedback.0.card": feedback_item(card=MEGABYTE),
    "feedback.0.overrideReason.reason.code": feedback_item(
        overrideReason={"reason": {"code": MEGABYTE, "system": "http://example.org/reasons"}}
    ),
    "feedback.0.overrideReason.reason.system": feedback_item(
        overrideReason={"reason": {"code": "c", "system": MEGABYTE}}
    ),
    "feedback.0.overrideReason.userComment": feedback_item(overrideReason={"userComment": MEGABYTE}),
    "feedback.0.acceptedSuggestions.0.id": feedback_item(outcome="accepted", acceptedSuggestions=[{"id": MEGABYTE}]),
}


@pytest.mark.parametrize("field", HUGE_FEEDBACK)
def test_megabyte_feedback_strings_are_refused_not_stored(client: FlaskClient, database: str, field: str) -> None:
    rsp = client.post(f"/cds-services/{SERVICE_ID}/feedback", json={"feedback": [HUGE_FEEDBACK[field]]})
    assert rsp.status_code == 400
    assert list(rsp.get_json()["fields"]) == [field]
    assert stored_feedback(database) == 0


def test_feedback_at_the_limits_is_stored(client: FlaskClient, database: str) -> None:
    item = feedback_item(
        card="c" * MAX_NAME_CHARS,
        overrideReason={"reason": {"code": "k" * MAX_CODE_CHARS, "system": "http://example.org/reasons"}},
    )
    rsp = client.post(f"/cds-services/{SERVICE_ID}/feedback", json={"feedback": [item]})
    assert rsp.status_code == 200, rsp.get_json()
    assert stored_feedback(database) == 1
