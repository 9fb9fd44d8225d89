"""Missing or stale labs: one work-up finding listing every lab to order (info; never a reason to speak alone)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.facts import PatientFacts
from service.knowledge import WORKUP_RULE, Knowledge
from service.knowledge_model import Workup
from service.rules import text
from service.rules.findings import Category, Finding, Indicator

CALCIUM_SATISFIED_BY_IONISED = frozenset({"calcium_total", "albumin"})


def _wanted(facts: PatientFacts, knowledge: Knowledge, needs: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Core labs plus labs that drugs or conditions call for, each with its reasons."""
    ionised = facts.recent("calcium_ionised", knowledge.analyte("calcium_ionised").lookback_days)
    wanted: dict[str, list[str]] = {a.id: [] for a in knowledge.analytes.values() if a.workup == Workup.CORE}
    for need, reasons in needs.items():
        lab = "calcium_total" if need == "calcium_ionised" else need  # total Ca with albumin answers a Ca need
        wanted.setdefault(lab, []).extend(r for r in reasons if r not in wanted.get(lab, []))
    if ionised is not None:
        for lab in CALCIUM_SATISFIED_BY_IONISED | {"calcium_ionised"}:
            wanted.pop(lab, None)
    return wanted


def _state(facts: PatientFacts, knowledge: Knowledge, analyte_id: str) -> tuple[str, bool] | None:
    """(text, stale) for a lab without a recent result, or None when it is recent."""
    analyte = knowledge.analyte(analyte_id)
    if facts.recent(analyte_id, analyte.lookback_days) is not None:
        return None
    latest = facts.latest(analyte_id)
    phrases = knowledge.cards.phrases
    if latest is None:
        return phrases["no_result"], False
    shown = text.quantity(latest.value_text, latest.unit)
    age = text.age(latest.effective, facts.now)
    return phrases["stale_result"].format(value=shown, age=age, days=analyte.lookback_days), True


def workup_finding(facts: PatientFacts, knowledge: Knowledge, needs: Mapping[str, Sequence[str]]) -> Finding | None:
    """The labs to order before new twitching is put down to progression (clinical-codes.md §4.3 tier A)."""
    wanted = _wanted(facts, knowledge, needs)
    gaps = {lab: state for lab in knowledge.analytes if lab in wanted and (state := _state(facts, knowledge, lab))}
    if not gaps:
        return None
    for analyte in knowledge.analytes.values():
        if analyte.workup == Workup.BUNDLED and (state := _state(facts, knowledge, analyte.id)):
            gaps[analyte.id] = state
    lines = []
    for lab, (state_text, _) in gaps.items():
        reasons = wanted.get(lab) or []
        because = f" ({', '.join(reasons)})" if reasons else ""
        lines.append(f"{knowledge.analyte(lab).display}: {state_text}{because}")
    missing = [knowledge.analyte(lab).short for lab, (_, stale) in gaps.items() if not stale]
    stale = [knowledge.analyte(lab).short for lab, (_, is_stale) in gaps.items() if is_stale]
    parts = [f"{', '.join(missing)} missing"] if missing else []
    parts += [f"{', '.join(stale)} stale"] if stale else []
    return Finding(
        rule_id=WORKUP_RULE,
        category=Category.WORKUP,
        indicator=Indicator.INFO,
        summary={"labs": "; ".join(parts)},
        facts=tuple(lines),
        orders=tuple(gaps),
        reversible=False,
    )
