"""A newer preliminary result never hides an older final one that is worse (issue 22).

FHIR R4 ObservationStatus (https://hl7.org/fhir/R4/codesystem-observation-status.html): a preliminary result is
"initial or interim ... may be incomplete or unverified"; the final one before it is the laboratory's last word.
When the final one is the more severe (critical over low, low over normal) the card is built on it, names both,
and keeps its severity until a newer final result is reported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from service.facts import LabResult, PatientFacts
from service.knowledge import Analyte, Knowledge
from service.rules import text
from service.rules.findings import Finding
from service.rules.judge import classify, critical_direction


def severity(result: LabResult, analyte: Analyte, knowledge: Knowledge) -> int:
    """0 normal (or not a direction the analyte flags), 1 abnormal, 2 critical."""
    direction = classify(result, analyte, knowledge.unit_aliases)
    if direction is None or direction not in analyte.flag:
        return 0
    return 2 if critical_direction(result, analyte) is not None else 1


def worse_final(
    result: LabResult, final: LabResult | None, analyte: Analyte, facts: PatientFacts, knowledge: Knowledge
) -> LabResult | None:
    """The final result before a preliminary ``result`` when it is recent and more severe; else None."""
    if not result.preliminary or final is None:
        return None
    if facts.now - final.effective > dt.timedelta(days=analyte.lookback_days):
        return None
    return final if severity(final, analyte, knowledge) > severity(result, analyte, knowledge) else None


def with_both(
    finding: Finding, final: LabResult, newer: LabResult, analyte: Analyte, facts: PatientFacts, knowledge: Knowledge
) -> Finding:
    """The finding built on the worse ``final`` result, naming it and the ``newer`` preliminary one."""
    phrases = knowledge.cards.phrases
    critical = critical_direction(final, analyte) is not None
    direction = classify(final, analyte, knowledge.unit_aliases)
    value = phrases["final_and_preliminary"].format(
        final=text.quantity(final.value_text, final.unit),
        flag="critical" if critical else (direction.value if direction else ""),
        final_age=text.age(final.effective, facts.now),
        preliminary=text.quantity(newer.value_text, newer.unit),
    )
    newer_line = text.lab_line(analyte.display, newer.value_text, newer, facts.now, flag="preliminary")
    summary = finding.with_summary(value=value, age=text.age(newer.effective, facts.now))
    notes = (phrases["worse_final_note"], phrases["preliminary_note"], *finding.notes)
    return replace(summary, facts=(*finding.facts, newer_line), notes=notes)
