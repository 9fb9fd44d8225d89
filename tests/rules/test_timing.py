"""service/rules/timing.py: a lab drawn before a drug's steady state (medications.yaml steady_state), and a culprit's
start weighed against the first record of twitching (onset_lead)."""

from __future__ import annotations

from service.facts import UseStatus
from service.rules.findings import Category, Finding, Indicator
from service.rules.timing import GAP_IN_USE, EarlyDraw, course_start, early_draw, early_note, with_onset_lead
from tests.rules.facts_builder import KNOWLEDGE, condition, days_ago, lab, patient, use

(STEADY,) = [rule for rule in KNOWLEDGE.steady_state if rule.lab == "tsh"]
LEAD = KNOWLEDGE.onset_lead
assert LEAD is not None
PHRASES = KNOWLEDGE.cards.phrases


def _early(days_after_start: int, status: UseStatus = UseStatus.ACTIVE, ended: float | None = None) -> EarlyDraw | None:
    tsh = lab(STEADY.lab, 2.0, days=10)
    facts = patient([tsh], [use(STEADY.group, started=10 + days_after_start, status=status, ended=ended)])
    return early_draw(facts, KNOWLEDGE, tsh)


def test_a_tsh_inside_the_steady_state_window_is_early() -> None:
    """TSH drawn fewer than `days` after the start: early, with the days and the window (levothyroxine-tsh-timing)."""
    early = _early(STEADY.days - 1)
    assert early is not None
    assert (early.days, early.window, early.started) == (STEADY.days - 1, STEADY.days, True)


def test_at_the_window_before_the_start_or_after_a_stop_it_is_not() -> None:
    """At exactly `days` the lab reflects the dose; a draw before the start is no steady-state question; a stopped
    drug asks nothing."""
    assert _early(STEADY.days) is None
    assert _early(-1) is None
    assert _early(1, status=UseStatus.STOPPED, ended=5) is None


def test_a_dose_change_restarts_the_window_and_says_changed() -> None:
    """A newer record with another regimen is a dose change: the window counts from it, worded as a change."""
    tsh = lab(STEADY.lab, 2.0, days=10)
    facts = patient(
        [tsh], [use(STEADY.group, started=300, regimen="50 ug"), use(STEADY.group, started=20, regimen="75 ug")]
    )
    early = early_draw(facts, KNOWLEDGE, tsh)
    assert early is not None and not early.started and early.days == 10
    assert PHRASES["change_changed"] in early_note(early, KNOWLEDGE, "TSH")
    same = patient(
        [tsh], [use(STEADY.group, started=300, regimen="50 ug"), use(STEADY.group, started=20, regimen="50 ug")]
    )
    assert early_draw(same, KNOWLEDGE, tsh) is None  # a renewal at the same dose is no change


def test_course_start_follows_renewals_back_but_not_across_a_gap() -> None:
    """Renewals that follow on (within GAP_IN_USE) are one course; a longer gap starts a new one."""
    gap = GAP_IN_USE.days
    renewed = (use("stimulant", started=400, ended=200), use("stimulant", started=200 - gap + 1))
    assert course_start(renewed) == days_ago(400)
    broken = (use("stimulant", started=400, ended=200), use("stimulant", started=200 - gap - 1))
    assert course_start(broken) == days_ago(200 - gap - 1)
    assert course_start((use("stimulant", started=None),)) is None


def _finding() -> Finding:
    return Finding(
        rule_id="drug.stimulant",
        category=Category.DRUG,
        indicator=Indicator.WARNING,
        summary={"drug": "Stimulant", "status": "active", "suffix": ""},
    )


def _lead(started_days_before_onset: int) -> Finding:
    onset = 30
    facts = patient(
        [], [use("stimulant", started=onset + started_days_before_onset)], [condition("fasciculation", days=onset)]
    )
    return with_onset_lead(_finding(), facts.uses_of("stimulant"), facts, KNOWLEDGE)


def test_a_drug_started_shortly_before_the_twitching_is_a_stronger_lead() -> None:
    """Started at most recent_days before the first record of twitching: suffix and note (who-umc-causality)."""
    lead = _lead(LEAD.recent_days)
    assert lead.summary["suffix"] == PHRASES["lead_recent_suffix"].format(days=LEAD.recent_days)
    assert lead.notes and lead.notes[0].startswith(PHRASES["lead_recent_note"].split("{", 1)[0])


def test_a_long_standing_drug_is_a_weaker_lead_and_the_middle_says_nothing() -> None:
    """Taken longer than long_standing_days: a note, no suffix; between the windows, or started after the onset,
    or without a dated onset, the finding is unchanged."""
    weak = _lead(LEAD.long_standing_days + 1)
    assert weak.summary["suffix"] == "" and len(weak.notes) == 1
    assert _lead(LEAD.recent_days + 1) == _finding()
    assert _lead(LEAD.long_standing_days) == _finding()
    assert _lead(-1) == _finding()
    undated = patient([], [use("stimulant", started=100)], [condition("fasciculation", days=None)])
    assert with_onset_lead(_finding(), undated.uses_of("stimulant"), undated, KNOWLEDGE) == _finding()
