"""service/rules/lithium.py: a high level is the finding (toxic at the critical level or with new twitching);
otherwise a patient on lithium gets a card saying why a fresh level is due (medications.yaml lithium_context)."""

from __future__ import annotations

from service.knowledge import LITHIUM_TOXIC_RULE
from service.rules import text
from service.rules.findings import Indicator
from service.rules.lithium import due_reasons, lithium_context, lithium_finding
from tests.rules.facts_builder import KNOWLEDGE, condition, lab, patient, use

LITHIUM = KNOWLEDGE.analyte("lithium")
CONTEXT = KNOWLEDGE.lithium_context
PHRASES = KNOWLEDGE.cards.phrases
IN_RANGE = LITHIUM.fallback_range.low or 0.8
STEADY = CONTEXT.steady_state_days
# Everything lithium's own monitoring and renal checks ask for, recent and in range.
MONITORED = [
    lab("creatinine", 0.9),
    lab("egfr", 90),
    lab("tsh", 2.0),
    lab("calcium_total", 9.5),
]


def _level_rule(value: float, *conditions: str) -> tuple[str | None, Indicator | None]:
    finding = lithium_finding(
        patient([lab("lithium", value), *MONITORED], [use("lithium")], [condition(c) for c in conditions]),
        KNOWLEDGE,
    )
    return (finding.rule_id, finding.indicator) if finding else (None, None)


def test_no_lithium_no_card() -> None:
    """Neither a lithium use nor a level: nothing to say."""
    assert lithium_finding(patient(MONITORED), KNOWLEDGE) is None


def test_a_level_in_range_with_nothing_due_is_silent_only_in_its_wording() -> None:
    """On lithium with a recent level in range and nothing changed: the drug card reads the last level, orders it."""
    finding = lithium_finding(patient([lab("lithium", IN_RANGE, days=30), *MONITORED], [use("lithium")]), KNOWLEDGE)
    assert finding is not None and finding.rule_id == "drug.lithium"
    assert finding.summary["status"].startswith(PHRASES["lithium_last_level"].split("{", 1)[0])
    assert finding.orders == ("lithium",)


def test_high_level_is_a_warning_and_toxic_with_twitching_or_at_the_critical_level() -> None:
    """At the alert level: lab.lithium.high (warning); with documented fasciculations or at the critical level:
    lab.lithium.toxic (critical) (dailymed-lithium)."""
    assert LITHIUM.alert_high is not None and LITHIUM.critical_high is not None
    assert _level_rule(LITHIUM.alert_high) == ("lab.lithium.high", Indicator.WARNING)
    assert _level_rule(LITHIUM.alert_high, "fasciculation") == (LITHIUM_TOXIC_RULE, Indicator.CRITICAL)
    assert _level_rule(LITHIUM.critical_high) == (LITHIUM_TOXIC_RULE, Indicator.CRITICAL)


def test_a_high_level_speaks_even_without_a_recorded_lithium_use() -> None:
    """The level itself is the finding: no prescription on record does not silence it."""
    assert LITHIUM.critical_high is not None
    finding = lithium_finding(patient([lab("lithium", LITHIUM.critical_high)]), KNOWLEDGE)
    assert finding is not None and finding.rule_id == LITHIUM_TOXIC_RULE


def test_no_level_or_a_stale_one_is_due() -> None:
    """On lithium without a level: 'no level on record'; with one older than the look-back: 'no level in N days'."""
    none = lithium_finding(patient(MONITORED, [use("lithium")]), KNOWLEDGE)
    assert none is not None and none.summary["status"] == PHRASES["lithium_no_level"]
    stale = patient(
        [lab("lithium", IN_RANGE, days=LITHIUM.lookback_days + 1), *MONITORED], [use("lithium", started=400)]
    )
    finding = lithium_finding(stale, KNOWLEDGE)
    assert finding is not None
    assert finding.summary["status"] == PHRASES["lithium_no_recent_level"].format(days=LITHIUM.lookback_days)


def test_a_level_before_an_interacting_drug_started_is_due() -> None:
    """A thiazide started after the last level raises lithium: the level no longer answers (bpac-lithium-2007)."""
    thiazide = use("thiazide-diuretic", started=10)
    facts = patient([lab("lithium", IN_RANGE, days=20), *MONITORED], [use("lithium"), thiazide])
    assert thiazide.start is not None
    expected = PHRASES["lithium_due_predates"].format(event=thiazide.name, date=text.date(thiazide.start))
    assert due_reasons(facts, KNOWLEDGE, facts.latest("lithium")) == (expected,)
    finding = lithium_finding(facts, KNOWLEDGE)
    assert finding is not None and finding.summary["status"] == PHRASES["lithium_level_due"].format(reason=expected)
    assert PHRASES["lithium_interacting_note"] in finding.notes


def test_a_level_before_steady_state_is_due_and_one_after_is_not() -> None:
    """A level drawn fewer than steady_state_days after the lithium start does not reflect the dose."""
    early = patient([lab("lithium", IN_RANGE, days=20), *MONITORED], [use("lithium", started=20 + STEADY - 1)])
    assert due_reasons(early, KNOWLEDGE, early.latest("lithium"))
    steady = patient([lab("lithium", IN_RANGE, days=20), *MONITORED], [use("lithium", started=20 + STEADY)])
    assert due_reasons(steady, KNOWLEDGE, steady.latest("lithium")) == ()


def test_reduced_renal_function_is_named_and_a_missing_renal_lab_is_ordered() -> None:
    """A high creatinine adds the renal note (reduced clearance raises lithium); no renal lab orders the first one."""
    high = [lab("creatinine", (KNOWLEDGE.analyte("creatinine").fallback_range.high or 1.2) + 1), lab("tsh", 2.0)]
    context = lithium_context(patient([*high, lab("calcium_total", 9.5)], [use("lithium")]), KNOWLEDGE, None)
    assert PHRASES["lithium_renal_note"] in context.notes and context.orders == ()
    missing = lithium_context(patient([lab("tsh", 2.0), lab("calcium_total", 9.5)], [use("lithium")]), KNOWLEDGE, None)
    assert missing.orders == (next(iter(CONTEXT.renal_labs)),)


def test_missing_monitoring_is_offered_on_the_drug_card_but_not_on_a_high_level() -> None:
    """TSH and calcium (lithium's own monitoring) are offered when not recent; a high level is acute and skips them."""
    renal = [lab("creatinine", 0.9)]
    routine = lithium_finding(patient([lab("lithium", IN_RANGE, days=30), *renal], [use("lithium")]), KNOWLEDGE)
    assert routine is not None and set(CONTEXT.monitoring_labs) <= set(routine.orders)
    assert LITHIUM.alert_high is not None
    acute = lithium_finding(patient([lab("lithium", LITHIUM.alert_high), *renal], [use("lithium")]), KNOWLEDGE)
    assert acute is not None and not set(CONTEXT.monitoring_labs) & set(acute.orders)
