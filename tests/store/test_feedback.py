"""Cards recorded from responses; feedback stored once, unknown cards flagged; no patient identifiers kept."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from cds_hooks import BadRequest, HookResponse, load_feedback
from service.feedback import card_recorder, feedback_sink, patient_hash
from service.store import IssuedCard, Store
from service.store.tables import feedback, issued_cards
from tests.store.conftest import (
    DEFINITION,
    SERVICE_ID,
    CardSpec,
    FakeClock,
    accepted,
    card,
    hook_request,
    overridden,
    response,
)

KEY = "test-hash-key"


def issue(store: Store, *specs: CardSpec, key: str | None = KEY, patient_id: str = "pat-secret-42") -> None:
    """Run the CardsIssued subscriber over a response holding ``specs``."""
    card_recorder(store, key)(DEFINITION, hook_request(patient_id), response(*specs))


def post(store: Store, *items: dict[str, Any]) -> dict[str, Any]:
    """Validate a feedback body like the endpoint does and hand it to the sink."""
    return feedback_sink(store)(SERVICE_ID, load_feedback({"feedback": list(items)}))


def dump(store: Store) -> str:
    """Every value in every table, as one string."""
    with store.engine.connect() as connection:
        rows = [
            repr(tuple(row))
            for table in ("issued_cards", "feedback", "seen_jti", "schema_version")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        ]
    return "\n".join(rows)


def test_issued_cards_keep_rule_version_suggestions_and_a_keyed_patient_hash(store: Store) -> None:
    spec = CardSpec("hypomagnesaemia")
    issue(store, spec)
    with store.engine.connect() as connection:
        row = connection.execute(select(issued_cards)).one()
    assert row.card_uuid == spec.card_uuid and row.service_id == SERVICE_ID and row.hook == "patient-view"
    assert (row.rule_id, row.knowledge_version, row.indicator) == ("hypomagnesaemia", "2025.1", "warning")
    assert spec.suggestion_uuid in row.suggestion_uuids and "Already ordered" in row.override_reasons
    assert row.patient_hash == hmac.new(KEY.encode(), b"pat-secret-42", hashlib.sha256).hexdigest()
    assert row.issued_at.tzinfo is not None
    assert "pat-secret-42" not in dump(store)


def test_without_a_key_no_patient_reference_is_kept(store: Store) -> None:
    issue(store, CardSpec("r"), key=None)
    with store.engine.connect() as connection:
        assert connection.scalar(select(issued_cards.c.patient_hash)) is None
    assert patient_hash("p", "") is None and patient_hash("", "k") is None


def test_the_same_card_issued_twice_is_recorded_once(store: Store) -> None:
    spec = CardSpec("r")
    issue(store, spec)
    issue(store, spec)
    with store.engine.connect() as connection:
        assert connection.scalar(select(text("count(*)")).select_from(issued_cards)) == 1


def test_feedback_is_stored_and_summarised(store: Store) -> None:
    first, second = CardSpec("r1"), CardSpec("r2")
    issue(store, first, second)
    summary = post(store, accepted(first), overridden(second.card_uuid, comment="patient is a nurse, checked"))
    assert summary == {"received": 2, "stored": 2, "duplicates": 0, "unknownCards": 0}
    with store.engine.connect() as connection:
        rows = {row.card_uuid: row for row in connection.execute(select(feedback))}
    assert rows[first.card_uuid].outcome == "accepted"
    assert first.suggestion_uuid in rows[first.card_uuid].accepted_suggestions
    assert rows[second.card_uuid].override_code == "not-relevant" and rows[second.card_uuid].has_comment
    assert all(row.card_known for row in rows.values())
    assert "nurse" not in dump(store)  # free text is not kept


def test_duplicates_are_stored_once_whatever_the_timestamp_spelling(store: Store) -> None:
    spec = CardSpec("r")
    issue(store, spec)
    assert post(store, accepted(spec, "2025-03-01T12:05:00.5Z"))["stored"] == 1
    again = post(store, accepted(spec, "2025-03-01T12:05:00.500Z"), accepted(spec, "2025-03-01T13:05:00.5+01:00"))
    assert again == {"received": 2, "stored": 0, "duplicates": 2, "unknownCards": 0}
    in_one_batch = post(store, overridden(spec.card_uuid), overridden(spec.card_uuid))
    assert (in_one_batch["stored"], in_one_batch["duplicates"]) == (1, 1)


def test_feedback_on_an_unknown_card_is_stored_flagged_and_counted(store: Store) -> None:
    known = CardSpec("r")
    issue(store, known)
    summary = post(store, accepted(known), overridden("never-issued-card"))
    assert summary == {"received": 2, "stored": 2, "duplicates": 0, "unknownCards": 1}
    assert post(store, overridden("never-issued-card"))["unknownCards"] == 1
    with store.engine.connect() as connection:
        query = select(feedback.c.card_known).where(feedback.c.card_uuid == "never-issued-card")
        assert connection.scalar(query) is False


def test_a_card_of_another_service_is_unknown_here(store: Store) -> None:
    other = IssuedCard("c-other", "other-service", "patient-view", "h", "info", FakeClock()())
    store.record_cards([other])
    assert post(store, overridden("c-other"))["unknownCards"] == 1


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (overridden("card\u0000x"), "feedback.1.card"),
        (overridden("c", code="bad\u0000code"), "feedback.1.overrideReason.reason.code"),
        (overridden("c", at="0001-01-01T00:00:00+01:00"), "feedback.1.outcomeTimestamp"),
    ],
)
def test_unstorable_input_is_a_400_and_loses_nothing(store: Store, item: dict[str, Any], field: str) -> None:
    spec = CardSpec("r")
    issue(store, spec)
    post(store, accepted(spec))
    with pytest.raises(BadRequest) as raised:
        post(store, overridden(spec.card_uuid), item)
    assert field in raised.value.fields
    with store.engine.connect() as connection:
        assert [row.outcome for row in connection.execute(select(feedback))] == ["accepted"]


def test_a_database_failure_while_recording_cards_does_not_fail_the_hook(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Store):
        def record_cards(self, cards: Any) -> int:
            raise OperationalError("INSERT", {}, Exception("disk full"))

    broken = Broken(store.engine)
    card_recorder(broken, KEY)(DEFINITION, hook_request(), response(CardSpec("r")))
    assert "could not record 1 cards" in caplog.text and "pat-secret-42" not in caplog.text


def test_cards_without_uuid_are_not_recorded(store: Store) -> None:
    document = HookResponse(cards=(dataclasses.replace(card(CardSpec("r")), uuid=None),))
    card_recorder(store, KEY)(DEFINITION, hook_request(), document)
    with store.engine.connect() as connection:
        assert connection.scalar(select(text("count(*)")).select_from(issued_cards)) == 0
