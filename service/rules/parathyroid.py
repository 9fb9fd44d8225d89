"""Calcium read with PTH (issue 25): the parathyroid pattern of a high or a confirmed low calcium.

A high calcium is judged with PTH (merck-hypercalcemia): a high or unsuppressed PTH is the PTH-dependent pattern
(primary or lithium-associated hyperparathyroidism), a suppressed one points away from the parathyroid. A low calcium
with a low or unraised PTH is the hypoparathyroid pattern, most often after neck surgery (merck-hypocalcemia).
Patterns are cards.yaml ``parathyroid_patterns``; PTH and the calcium-raising drugs are labs.yaml ``parathyroid``.
"""

from __future__ import annotations

from dataclasses import replace

from service.facts import LabResult, PatientFacts
from service.knowledge import Direction, DrugKind, Knowledge
from service.rules import text
from service.rules.findings import Finding
from service.rules.judge import classify
from service.rules.medications import qualifying_uses, use_line


def pth_state(facts: PatientFacts, knowledge: Knowledge) -> tuple[str, LabResult | None]:
    """'low' | 'normal' | 'high' for a recent PTH that can be judged, else 'absent' (with an unreadable one, if any)."""
    if knowledge.parathyroid is None:
        return "absent", None
    analyte = knowledge.analyte(knowledge.parathyroid.pth)
    pth = facts.recent(analyte.id, analyte.lookback_days)
    if pth is None:
        return "absent", None
    direction = classify(pth, analyte, knowledge.unit_aliases)
    if direction is None and not pth.unit_understood:
        return "absent", pth  # neither its unit nor a laboratory flag says where it lies
    return (direction.value if direction else "normal"), pth


def raising_drug_notes(facts: PatientFacts, knowledge: Knowledge) -> tuple[str, ...]:
    """Drugs on record that raise calcium (lithium, thiazides), and what lithium means for a high calcium."""
    if knowledge.parathyroid is None:
        return ()
    groups = [knowledge.drug_group(group_id) for group_id in knowledge.parathyroid.calcium_raising_groups]
    found = [(group, use) for group in groups for use in qualifying_uses(facts, group)[:1]]
    if not found:
        return ()
    phrases = knowledge.cards.phrases
    items = "; ".join(use_line(use, group, facts.now, knowledge) for group, use in found)
    lithium = any(group.kind == DrugKind.LITHIUM for group, _ in found)
    return (
        phrases["calcium_raising_drugs"].format(items=items),
        *([phrases["lithium_calcium_note"]] if lithium else ()),
    )


def with_parathyroid(finding: Finding, direction: Direction, facts: PatientFacts, knowledge: Knowledge) -> Finding:
    """The calcium finding with its PTH pattern: PTH shown and named in the summary, or offered on a high calcium.

    A low calcium without a recent PTH is left as it is (its follow-up labs already offer PTH).
    """
    state, pth = pth_state(facts, knowledge)
    if knowledge.parathyroid is None or (state == "absent" and direction == Direction.LOW):
        return finding
    pattern = knowledge.cards.parathyroid_patterns[f"{direction.value}/{state}"]
    analyte = knowledge.analyte(knowledge.parathyroid.pth)
    lines: tuple[str, ...] = ()
    if pth is not None:
        flag = "" if state in ("absent", "normal") else state
        lines = (text.lab_line(analyte.display, pth.value_text, pth, facts.now, flag=flag),)
    suffix = finding.summary.get("suffix", "")
    if state != "absent" and pth is not None:
        shown = text.quantity(pth.value_text, pth.unit)
        suffix += knowledge.cards.phrases["pth_line_suffix"].format(state=state, value=shown) + f": {pattern.label}"
    orders = (*finding.orders, analyte.id) if state == "absent" and analyte.id not in finding.orders else finding.orders
    citations = (*finding.citations, *(c for c in knowledge.parathyroid.citations if c not in finding.citations))
    return replace(
        finding.with_summary(suffix=suffix),
        facts=(*finding.facts, *lines),
        notes=(pattern.note, *finding.notes),
        orders=orders,
        citations=citations,
    )
