"""Lab rules: calcium (ionised, albumin-corrected or total; low, and high with PTH), magnesium, potassium, thyroid.

Each abnormal result is judged by the lab's own interpretation, then its reference range, then the knowledge
fall-back range; knowledge critical thresholds always escalate (labs.yaml).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from service.facts import LabResult, PatientFacts
from service.facts.units import convert, to_canonical
from service.knowledge import Analyte, Direction, Knowledge
from service.knowledge.loader import PREGNANCY_CALCIUM_SOURCES, PREGNANCY_TSH_SOURCES
from service.rules import text
from service.rules.conditions import context_note
from service.rules.findings import Category, Finding, Indicator
from service.rules.judge import classify, critical_direction, lab_notes
from service.rules.lithium_links import name_lithium
from service.rules.medications import contributor_note
from service.rules.parathyroid import raising_drug_notes, with_parathyroid
from service.rules.preliminary import with_both, worse_final
from service.rules.timing import early_draw, early_note


@dataclass(frozen=True)
class CalciumReading:
    """The calcium value to judge and how it was obtained."""

    result: LabResult
    analyte: str
    basis: str  # "ionised" | "corrected" | "total" | "pregnancy" (total, uncorrected on purpose)
    note: str


def corrected_calcium(total: LabResult, albumin: LabResult, knowledge: Knowledge) -> LabResult | None:
    """Albumin-corrected total calcium (Payne-type; SI variant for mmol/L), or None if not computable."""
    correction = knowledge.albumin_correction
    if abs(total.effective - albumin.effective) > dt.timedelta(hours=correction.max_gap_hours):
        return None
    formula = correction.si if total.unit == correction.si.calcium_unit else correction.conventional
    aliases, ca_analyte = knowledge.unit_aliases, knowledge.analyte("calcium_total")
    if total.unit is None or albumin.unit is None:
        return None
    calcium = convert(total.value, total.unit, formula.calcium_unit, ca_analyte, aliases)
    alb = convert(albumin.value, albumin.unit, formula.albumin_unit, knowledge.analyte("albumin"), aliases)
    if calcium is None or alb is None:
        return None
    value = round(calcium + formula.factor * (formula.reference_albumin - alb), formula.decimals)
    return replace(
        total,
        value=value,
        value_text=text.number(value, formula.decimals),
        unit=formula.calcium_unit,
        canonical=(canonical := to_canonical(value, formula.calcium_unit, ca_analyte, aliases)),
        canonical_text=None if canonical is None else text.number(canonical, ca_analyte.decimals),
        reference_unit=total.reference_unit or total.unit,
        interpretation=(),
    )


def calcium_reading(facts: PatientFacts, knowledge: Knowledge) -> CalciumReading | None:
    """Recent ionised calcium if present, else albumin-corrected total, else the total as measured."""
    phrases = knowledge.cards.phrases
    ionised = facts.recent("calcium_ionised", knowledge.analyte("calcium_ionised").lookback_days)
    if ionised is not None and ionised.unit_understood:
        return CalciumReading(ionised, "calcium_ionised", "ionised", phrases["ionised_note"])
    total = facts.recent("calcium_total", knowledge.analyte("calcium_total").lookback_days)
    reported = facts.recent("calcium_corrected", knowledge.analyte("calcium_corrected").lookback_days)
    if reported is not None and reported.unit_understood and (total is None or reported.effective >= total.effective):
        # A corrected calcium the laboratory reports (29265-6) is used as it is: it needs no albumin (issue 25).
        return CalciumReading(reported, "calcium_corrected", "corrected", phrases["reported_corrected_note"])
    if total is None:
        return None
    if facts.pregnant():  # the albumin correction is unreliable in pregnancy (pitkin-calcium-pregnancy-1979)
        return CalciumReading(total, "calcium_total", "pregnancy", phrases["pregnancy_calcium_note"])
    albumin = facts.latest("albumin")
    corrected = corrected_calcium(total, albumin, knowledge) if albumin else None
    if corrected is None or albumin is None:
        uncorrected = phrases["uncorrected_note"].format(hours=knowledge.albumin_correction.max_gap_hours)
        return CalciumReading(total, "calcium_total", "total", uncorrected)
    gap = f"{abs(total.effective - albumin.effective).total_seconds() / 3600:.0f} h"
    note = phrases["corrected_note"].format(
        total=text.quantity(total.value_text, total.unit),
        albumin=text.quantity(albumin.value_text, albumin.unit),
        gap=gap,
    )
    return CalciumReading(corrected, "calcium_total", "corrected", note)


def _lab_finding(
    analyte: Analyte,
    result: LabResult,
    direction: Direction,
    facts: PatientFacts,
    knowledge: Knowledge,
    basis: str,
    *,
    contributors: bool = True,
) -> Finding:
    critical = critical_direction(result, analyte) is not None
    label = f"{analyte.display} ({basis})" if basis else analyte.display
    shown = text.quantity(result.value_text, result.unit) + (f" {basis}" if basis else "")
    if result.preliminary:
        shown += knowledge.cards.phrases[
            "preliminary_suffix"
        ]  # a critical escalation from a preliminary result says so
    # Contributors and context of this file's drugs and conditions lower an analyte: not named on a high calcium.
    found = (contributor_note(facts, knowledge, analyte.id), context_note(facts, knowledge, analyte.id))
    notes = [note for note in found if note and contributors]
    return Finding(
        rule_id=f"lab.{analyte.finding}.{direction}",
        category=Category.LAB,
        indicator=Indicator.CRITICAL if critical else Indicator.WARNING,
        summary={"value": shown, "age": text.age(result.effective, facts.now), "suffix": ""},
        facts=(text.lab_line(label, result.value_text, result, facts.now, flag=direction.value),),
        notes=(*lab_notes(result, knowledge), *notes),
        citations=analyte.citations,
        cause=f"{direction.value} {analyte.display if analyte.display.isupper() else analyte.display.lower()}",
    )


def _judged(
    analyte: Analyte,
    result: LabResult,
    final: LabResult | None,
    facts: PatientFacts,
    knowledge: Knowledge,
    basis: str = "",
) -> tuple[Finding, Direction] | None:
    """The finding of one result (and its direction), or of the older ``final`` one when a preliminary would hide it.

    Contributors and context of this file's drugs and conditions lower an analyte: not named on a high calcium.
    """
    worse = worse_final(result, final, analyte, facts, knowledge)
    judged = worse or result
    direction = classify(judged, analyte, knowledge.unit_aliases)
    if direction is None or direction not in analyte.flag:
        return None
    contributors = not (analyte.finding == "calcium" and direction == Direction.HIGH)
    finding = _lab_finding(analyte, judged, direction, facts, knowledge, basis, contributors=contributors)
    return (with_both(finding, worse, result, analyte, facts, knowledge) if worse else finding), direction


def _simple(analyte_id: str, facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    analyte = knowledge.analyte(analyte_id)
    result = facts.recent(analyte_id, analyte.lookback_days)
    judged = _judged(analyte, result, result.earlier_final, facts, knowledge) if result else None
    return judged[0] if judged else None


def calcium_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """Low calcium (merck-hypocalcemia): neuromuscular irritability; judged on ionised or albumin-corrected Ca."""
    reading = calcium_reading(facts, knowledge)
    if reading is None:
        return None
    analyte = knowledge.analyte(reading.analyte)
    basis = "" if reading.basis in ("total", "pregnancy") else reading.basis
    judged = _judged(analyte, reading.result, _final_reading(reading, facts, knowledge), facts, knowledge, basis)
    if judged is None:
        return None
    finding, direction = judged
    if direction == Direction.HIGH:
        return _high_calcium(finding, reading, facts, knowledge)
    if reading.basis == "pregnancy":
        return _pregnancy_calcium(finding, reading, knowledge)
    if reading.basis != "total":
        confirmed = _with_follow_up(replace(finding, notes=(reading.note, *finding.notes)), analyte, facts, knowledge)
        return with_parathyroid(confirmed, direction, facts, knowledge)
    # Uncorrected total calcium: confirm (ionised, or albumin with a repeat) before treating (issue 11 item 10).
    action = knowledge.cards.phrases["uncorrected_action"]
    finding = finding.with_summary(suffix=knowledge.cards.phrases["uncorrected_suffix"])
    return replace(finding, notes=(reading.note, *finding.notes), orders=("calcium_ionised", "albumin"), action=action)


def _final_reading(reading: CalciumReading, facts: PatientFacts, knowledge: Knowledge) -> LabResult | None:
    """The final calcium before a preliminary one, read on the same basis (albumin-corrected when the reading is)."""
    final = reading.result.earlier_final
    albumin = facts.latest("albumin")
    if final is None or reading.basis != "corrected" or albumin is None:
        return final
    return corrected_calcium(final, albumin, knowledge)


def _high_calcium(finding: Finding, reading: CalciumReading, facts: PatientFacts, knowledge: Knowledge) -> Finding:
    """High calcium (merck-hypercalcemia): hyperparathyroidism can give weakness, cramps and an ALS-like picture.

    Read with PTH and the drugs that raise calcium (lithium-associated hyperparathyroidism: clinical-codes-lithium);
    a total calcium that is not corrected (no albumin, or pregnancy) is confirmed with ionised calcium first.
    """
    phrases = knowledge.cards.phrases
    confirm = reading.basis in ("total", "pregnancy")
    notes = (reading.note, *([phrases["high_calcium_confirm_note"]] if confirm else ()), *finding.notes)
    orders = ("calcium_ionised", "albumin") if reading.basis == "total" else ("calcium_ionised",) if confirm else ()
    finding = replace(finding, notes=(*notes, *raising_drug_notes(facts, knowledge)), orders=orders)
    return name_lithium(with_parathyroid(finding, Direction.HIGH, facts, knowledge), facts, knowledge)


def _pregnancy_calcium(finding: Finding, reading: CalciumReading, knowledge: Knowledge) -> Finding:
    """Low total calcium in pregnancy (pitkin-calcium-pregnancy-1979, perinatology-calcium): confirm with ionised Ca.

    Total calcium falls with albumin through pregnancy while ionised calcium stays almost unchanged, and the albumin
    correction is unreliable there: the card shows the total uncorrected and asks for ionised calcium only.
    """
    phrases = knowledge.cards.phrases
    finding = finding.with_summary(suffix=phrases["pregnancy_calcium_suffix"])
    citations = (*finding.citations, *PREGNANCY_CALCIUM_SOURCES)
    notes = (reading.note, *finding.notes)
    action = phrases["pregnancy_calcium_action"]
    return replace(finding, notes=notes, orders=("calcium_ionised",), action=action, citations=citations)


def _with_follow_up(finding: Finding, analyte: Analyte, facts: PatientFacts, knowledge: Knowledge) -> Finding:
    """A confirmed low calcium offers the labs that find its cause (PTH, 25-OH vitamin D, phosphate) when not recent.

    Only for an ionised or albumin-corrected value: an uncorrected total is confirmed first (merck-hypocalcemia).
    """
    wanted = tuple(lab for lab in analyte.follow_up if facts.recent(lab, knowledge.analyte(lab).lookback_days) is None)
    if not wanted:
        return finding
    return replace(finding, orders=(*finding.orders, *wanted)).with_notes(
        knowledge.cards.phrases["calcium_follow_up_note"]
    )


def magnesium_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """Low magnesium (cmdt-hypomagnesemia): tremor and fasciculations; critical below the symptomatic cut-off."""
    return _simple("magnesium", facts, knowledge)


def potassium_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """Low potassium (statpearls-hypokalemia): weakness and cramps, often with low magnesium."""
    return _simple("potassium", facts, knowledge)


def _ft4_state(facts: PatientFacts, knowledge: Knowledge) -> tuple[str, LabResult | None]:
    """'low' | 'normal' | 'high' for a recent, readable free T4, else 'absent' (with the unreadable one, if any)."""
    analyte = knowledge.analyte("free_t4")
    ft4 = facts.recent("free_t4", analyte.lookback_days)
    if ft4 is None:
        return "absent", None
    direction = classify(ft4, analyte, knowledge.unit_aliases)
    if direction is None and not ft4.unit_understood:
        return "absent", ft4  # present, but neither its unit nor a laboratory flag says where it lies
    return (direction.value if direction else "normal"), ft4


def thyroid_finding(facts: PatientFacts, knowledge: Knowledge) -> Finding | None:
    """Abnormal TSH read with free T4 (koulouri-thyroid-2013): the pair names the pattern; 'possible' without FT4."""
    finding = _simple("tsh", facts, knowledge)
    if finding is None:
        return None
    state, ft4 = _ft4_state(facts, knowledge)
    pattern = knowledge.cards.thyroid_patterns[f"{finding.rule_id.rsplit('.', 1)[1]}/{state}"]
    lines: tuple[str, ...] = ()
    orders: tuple[str, ...] = ("free_t4",)
    if ft4 is None:
        suffix = "; no free T4"
    else:
        flag = "" if state == "absent" else state
        lines = (text.lab_line(knowledge.analyte("free_t4").display, ft4.value_text, ft4, facts.now, flag=flag),)
        shown = text.quantity(ft4.value_text, ft4.unit)
        suffix = "; free T4 unit not understood" if state == "absent" else f", free T4 {state} ({shown})"
        orders = ("free_t4",) if state == "absent" else ()
    notes = (pattern.note, *(lab_notes(ft4, knowledge) if ft4 else ()), *finding.notes)
    summary = finding.with_summary(suffix=f"{suffix}: {pattern.label}")
    thyroid = replace(summary, facts=(*finding.facts, *lines), orders=orders, notes=notes)
    thyroid = _thyroid_timing(_thyroid_in_pregnancy(thyroid, state, facts, knowledge), facts, knowledge)
    # Lithium-associated hypothyroidism (issue 25): a high TSH on lithium names lithium as the likely cause.
    return name_lithium(thyroid, facts, knowledge, "lithium_tsh_note") if thyroid.rule_id == "lab.tsh.high" else thyroid


def _thyroid_in_pregnancy(finding: Finding, ft4_state: str, facts: PatientFacts, knowledge: Knowledge) -> Finding:
    """TSH in pregnancy (ata-pregnancy-2017): ranges are trimester-specific; a low TSH alone is not hyperthyroidism.

    hCG lowers TSH, most in the first trimester, so a TSH below the non-pregnant range with a normal (or unknown)
    free T4 is read against the trimester-specific range instead of being called thyroid hormone excess: an info
    card asking for that comparison (and free T4), never the excess pattern.
    """
    if not facts.pregnant():
        return finding
    phrases = knowledge.cards.phrases
    if finding.rule_id != "lab.tsh.low" or ft4_state not in ("normal", "absent"):
        return finding.with_notes(phrases["pregnancy_tsh_note"])
    summary = finding.summary.get("suffix", "").split(":", 1)[0]  # the free T4 part, without the pattern label
    return replace(
        finding.with_summary(suffix=summary + phrases["pregnancy_tsh_suffix"]),
        indicator=Indicator.INFO,
        notes=(phrases["pregnancy_tsh_low_note"], *finding.notes[1:]),
        action=phrases["pregnancy_tsh_action"],
        citations=(*finding.citations, *PREGNANCY_TSH_SOURCES),
    )


def _thyroid_timing(finding: Finding, facts: PatientFacts, knowledge: Knowledge) -> Finding:
    """A TSH drawn under 6 weeks after a thyroid hormone start or dose change (levothyroxine-tsh-timing) is repeated."""
    tsh = facts.recent("tsh", knowledge.analyte("tsh").lookback_days)
    early = early_draw(facts, knowledge, tsh) if tsh else None
    if early is None:
        return finding
    summary = finding.with_summary(suffix=finding.summary.get("suffix", "") + knowledge.cards.phrases["early_suffix"])
    notes = (early_note(early, knowledge, knowledge.analyte("tsh").display), *finding.notes)
    return replace(summary, notes=notes, orders=("tsh", *finding.orders))


def apply_magnesium_first(findings: list[Finding], knowledge: Knowledge) -> list[Finding]:
    """When Mg and Ca or K are both low, say 'correct Mg first' (cmdt-hypomagnesemia) and show Mg first."""
    ids = {f.rule_id for f in findings}
    if "lab.magnesium.low" not in ids or not ids & {"lab.calcium.low", "lab.potassium.low"}:
        return findings
    phrases = knowledge.cards.phrases
    result = []
    for finding in findings:
        if finding.rule_id == "lab.magnesium.low":
            finding = replace(finding.with_summary(suffix=phrases["mg_first_suffix"]), priority=-1)
        elif finding.rule_id in ("lab.calcium.low", "lab.potassium.low"):
            finding = finding.with_notes(phrases["mg_first_note"])
        result.append(finding)
    return result


def lab_findings(facts: PatientFacts, knowledge: Knowledge) -> list[Finding]:
    """Every abnormal-lab finding of the screen."""
    rules = (calcium_finding, magnesium_finding, potassium_finding, thyroid_finding)
    found = [finding for rule in rules if (finding := rule(facts, knowledge)) is not None]
    return apply_magnesium_first(found, knowledge)
