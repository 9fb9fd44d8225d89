"""``feedback report``: per rule shown/accepted/overridden/rate, top override reasons, comments; --since; --json."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cds_hooks import load_feedback
from service.feedback import card_recorder, feedback_sink
from service.report import build_report, parse_since, report_json, report_text
from service.store import Store
from tests.store.conftest import (
    DEFINITION,
    SERVICE_ID,
    CardSpec,
    FakeClock,
    accepted,
    hook_request,
    overridden,
    response,
)


def issue(store: Store, clock: FakeClock, *specs: CardSpec) -> None:
    """Record ``specs`` as issued at the clock's time."""
    card_recorder(store, None, clock)(DEFINITION, hook_request(), response(*specs))


def post(store: Store, *items: dict[str, Any]) -> dict[str, Any]:
    """Feedback through the sink."""
    return feedback_sink(store)(SERVICE_ID, load_feedback({"feedback": list(items)}))


def scenario(store: Store, clock: FakeClock) -> list[CardSpec]:
    """Magnesium: 4 cards (1 accepted, 2 overridden, 1 silent); TSH: 1 overridden, later accepted; 1 unknown."""
    mg = [CardSpec("low-magnesium") for _ in range(4)]
    tsh = CardSpec("thyroid", knowledge_version="2025.2")
    issue(store, clock, *mg, tsh)
    post(
        store,
        accepted(mg[0]),
        overridden(mg[1].card_uuid, code="already-done", comment="done last week"),
        overridden(mg[2].card_uuid, code="already-done"),
        overridden(tsh.card_uuid, code="not-relevant", at="2025-03-01T12:00:00Z"),
        accepted(tsh, at="2025-03-01T12:30:00Z"),
        overridden("card-from-nowhere"),
    )
    return [*mg, tsh]


def test_report_per_rule(store: Store, clock: FakeClock) -> None:
    scenario(store, clock)
    document = report_json(build_report(store))
    rules = {rule["ruleId"]: rule for rule in document["rules"]}
    mg, tsh = rules["low-magnesium"], rules["thyroid"]
    assert (mg["shown"], mg["accepted"], mg["overridden"], mg["noFeedback"]) == (4, 1, 2, 1)
    assert mg["acceptanceRate"] == pytest.approx(0.25) and mg["comments"] == 1
    assert mg["topOverrideReasons"] == [
        {"code": "already-done", "system": "http://example.org/override", "display": "Already ordered", "count": 2}
    ]
    assert mg["knowledgeVersions"] == ["2025.1"] and tsh["knowledgeVersions"] == ["2025.2"]
    # Every event counts: overridden at 12:00 and accepted at 12:30, the card is in both.
    assert (tsh["shown"], tsh["accepted"], tsh["overridden"], tsh["acceptedAndOverridden"]) == (1, 1, 1, 1)
    assert tsh["noFeedback"] == 0 and tsh["acceptanceRate"] == 1.0
    assert tsh["topOverrideReasons"] == [
        {"code": "not-relevant", "system": "http://example.org/override", "display": "Not relevant", "count": 1}
    ]
    assert mg["acceptedAndOverridden"] == 0
    assert document["unknownCardFeedback"] == 1 and document["since"] is None
    assert [rule["ruleId"] for rule in document["rules"]] == ["low-magnesium", "thyroid"]


def test_accepted_then_dismissed_counts_in_both_and_duplicates_once(store: Store, clock: FakeClock) -> None:
    spec = CardSpec("low-magnesium")
    issue(store, clock, spec)
    # The Sandbox keeps a card on screen after its suggestion is taken; a later Dismiss overrides the same card.
    events = (accepted(spec), overridden(spec.card_uuid, code="already-done", comment="done"))
    assert post(store, *events)["stored"] == 2
    assert post(store, *events) == {"received": 2, "stored": 0, "duplicates": 2, "unknownCards": 0}
    post(store, overridden(spec.card_uuid, code="already-done", at="2025-03-01T12:07:00Z"))  # same reason again
    (rule,) = build_report(store).rules
    assert (rule.shown, rule.accepted, rule.overridden, rule.accepted_and_overridden, rule.no_feedback) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert rule.acceptance_rate == 1.0 and rule.comments == 1
    assert [(r.code, r.count) for r in rule.override_reasons] == [("already-done", 1)]


def test_since_keeps_cards_issued_from_then_on(store: Store, clock: FakeClock) -> None:
    scenario(store, clock)
    clock.advance(days=2)
    late = CardSpec("low-magnesium")
    issue(store, clock, late)
    post(store, accepted(late, at="2025-03-03T12:05:00Z"))
    report = build_report(store, parse_since("2025-03-02"))
    assert [(r.rule_id, r.shown, r.accepted, r.overridden) for r in report.rules] == [("low-magnesium", 1, 1, 0)]
    assert report.unknown_card_feedback == 0


def test_text_report_names_rules_reasons_and_unknowns(store: Store, clock: FakeClock) -> None:
    scenario(store, clock)
    text = report_text(build_report(store))
    assert "low-magnesium" in text and "25.0%" in text
    assert "override already-done (Already ordered): 2" in text
    assert "Feedback on cards we never issued: 1" in text


def test_empty_store_reports_nothing(store: Store) -> None:
    report = build_report(store)
    assert report.rules == () and report.unknown_card_feedback == 0
    assert "(no cards issued)" in report_text(report)


def test_cli_reads_the_configured_database(
    store: Store,
    clock: FakeClock,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from service.cli import main

    scenario(store, clock)
    monkeypatch.setenv("CDS_DATABASE_URL", database_url)
    assert main(["feedback", "report", "--json", "--since", "2025-03-01T00:00:00Z"]) == 0
    document = orjson.loads(capsys.readouterr().out)
    assert {rule["ruleId"]: rule["shown"] for rule in document["rules"]} == {"low-magnesium": 4, "thyroid": 1}
    assert main(["feedback", "report"]) == 0
    assert "low-magnesium" in capsys.readouterr().out


def test_since_must_be_a_date(capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["feedback", "report", "--since", "last tuesday"])
    assert exited.value.code == 2 and "not an ISO date" in capsys.readouterr().err


def test_a_rule_without_feedback_shows_a_dash_not_zero_percent(store: Store, clock: FakeClock) -> None:
    tsh = CardSpec("thyroid")
    issue(store, clock, CardSpec("low-magnesium"), tsh)
    post(store, overridden(tsh.card_uuid, code="not-relevant"))
    rows = {line.split()[0]: line.split() for line in report_text(build_report(store)).splitlines()[2:]}
    assert rows["low-magnesium"][6] == "\u2014" and rows["thyroid"][6] == "0.0%"  # overridden: really 0 % accepted
