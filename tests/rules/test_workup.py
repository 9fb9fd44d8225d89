"""service/rules/workup.py: one info finding listing every core lab (and the needs drugs and conditions add) that
is missing, stale, unreadable or drawn before steady state; bundled labs join it; a family answered by one member."""

from __future__ import annotations

from service.facts import LabResult
from service.knowledge import WORKUP_RULE, Workup
from service.rules.findings import Indicator
from service.rules.workup import wanted_labs, workup_finding
from tests.rules.facts_builder import KNOWLEDGE, lab, patient, use

CORE = [a.id for a in KNOWLEDGE.analytes.values() if a.workup == Workup.CORE]
BUNDLED = [a.id for a in KNOWLEDGE.analytes.values() if a.workup == Workup.BUNDLED]
PHRASES = KNOWLEDGE.cards.phrases
(CALCIUM,) = [f for f in KNOWLEDGE.families if f.id == "calcium"]


def _in_range(analyte_id: str) -> float:
    analyte = KNOWLEDGE.analyte(analyte_id)
    low, high = analyte.fallback_range.low, analyte.fallback_range.high
    return (low + high) / 2 if low is not None and high is not None else (low or high or 1.0)


def _recent(*analytes: str) -> list[LabResult]:
    return [lab(a, _in_range(a)) for a in analytes]


def test_nothing_on_record_orders_the_core_and_bundled_labs_as_info() -> None:
    """With no labs, the finding offers every core lab, then the bundled ones; it is info and never a reversible
    cause (it never speaks alone in the gated mode)."""
    finding = workup_finding(patient(), KNOWLEDGE, {})
    assert finding is not None and finding.rule_id == WORKUP_RULE
    assert finding.indicator == Indicator.INFO and not finding.reversible
    assert list(finding.orders) == [a for a in KNOWLEDGE.analytes if a in CORE or a in BUNDLED]
    assert PHRASES["gap_missing"] in finding.summary["labs"]


def test_a_complete_core_work_up_says_nothing_even_with_bundled_labs_missing() -> None:
    """All core labs recent and understood: no finding (bundled labs only ride along with a real gap)."""
    assert workup_finding(patient(_recent(*CORE)), KNOWLEDGE, {}) is None


def test_stale_and_unreadable_results_are_offered_again_and_shown() -> None:
    """A result older than its look-back is 'stale'; one whose unit is not understood is 'unit not understood',
    its value still shown (never dropped silently)."""
    magnesium = KNOWLEDGE.analyte("magnesium")
    labs = [*_recent(*(a for a in CORE if a not in ("magnesium", "potassium")))]
    labs += [lab("magnesium", 2.0, days=magnesium.lookback_days + 1), lab("potassium", 4.0, unit="furlongs")]
    finding = workup_finding(patient(labs), KNOWLEDGE, {})
    assert finding is not None
    assert finding.orders[:2] == ("magnesium", "potassium")
    assert f"{magnesium.short} {PHRASES['gap_stale']}" in finding.summary["labs"]
    assert PHRASES["gap_unreadable"] in finding.summary["labs"]
    assert any("furlongs" in line for line in finding.facts)


def test_an_ionised_calcium_answers_the_calcium_family_and_its_albumin() -> None:
    """A recent, understood ionised calcium answers total calcium and the albumin needed to correct it."""
    others = [a for a in CORE if a not in (*CALCIUM.labs, *CALCIUM.answers_also)]
    facts = patient([*_recent(*others), lab(CALCIUM.answered_by, _in_range(CALCIUM.answered_by))])
    assert workup_finding(facts, KNOWLEDGE, {}) is None
    wanted = wanted_labs(patient(), KNOWLEDGE, {})
    assert CALCIUM.order_as in wanted and CALCIUM.answered_by not in wanted


def test_a_need_joins_with_its_reason_and_a_family_need_is_ordered_as_the_family() -> None:
    """A drug's lab need is offered with its reason; a need for any calcium is ordered as total calcium."""
    wanted = wanted_labs(patient(), KNOWLEDGE, {"calcium_ionised": ["on a loop diuretic"], "b12": ["on metformin"]})
    assert wanted[CALCIUM.order_as] == ["on a loop diuretic"] and wanted["b12"] == ["on metformin"]
    finding = workup_finding(patient(_recent(*CORE)), KNOWLEDGE, {"b12": ["on metformin"]})
    assert finding is not None and finding.orders[0] == "b12"
    assert any(line.endswith("(on metformin)") for line in finding.facts)


def test_labs_another_card_offers_are_not_offered_twice() -> None:
    """`offered` (lithium's TSH and calcium) leaves those labs to the other card."""
    missing = [a for a in CORE if a != "tsh"]
    finding = workup_finding(patient(_recent(*missing)), KNOWLEDGE, {}, offered=frozenset({"tsh"}))
    assert finding is None


def test_a_tsh_before_levothyroxine_steady_state_is_due() -> None:
    """A recent TSH drawn inside the steady-state window is offered again as 'before steady state'."""
    (steady,) = [s for s in KNOWLEDGE.steady_state if s.lab == "tsh"]
    labs = [*_recent(*(a for a in CORE if a != "tsh")), lab("tsh", 2.0, days=5)]
    finding = workup_finding(patient(labs, [use(steady.group, started=10)]), KNOWLEDGE, {})
    assert finding is not None and finding.orders[0] == "tsh"
    assert PHRASES["gap_early"] in finding.summary["labs"]
