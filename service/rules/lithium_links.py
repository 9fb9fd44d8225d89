"""Lithium named on the cards of what it causes (issue 25): a high TSH and a high calcium.

Lithium reduces thyroid hormone release (lithium-associated hypothyroidism) and raises PTH and calcium
(lithium-associated hyperparathyroidism); TSH and calcium are part of its monitoring (dailymed-lithium,
clinical-codes-lithium). A card for either names lithium in its summary, whatever the lithium level.
"""

from __future__ import annotations

from dataclasses import replace

from service.facts import PatientFacts
from service.knowledge import Knowledge
from service.rules.findings import Finding
from service.rules.medications import qualifying_uses, use_line

LITHIUM_GROUP = "lithium"


def name_lithium(finding: Finding, facts: PatientFacts, knowledge: Knowledge, note: str | None = None) -> Finding:
    """The finding with "on lithium" in its summary and, when given, the cards.yaml phrase ``note`` and the drug."""
    group = knowledge.drug_group(LITHIUM_GROUP)
    uses = qualifying_uses(facts, group)
    if not uses:
        return finding
    phrases = knowledge.cards.phrases
    named = finding.with_summary(suffix=finding.summary.get("suffix", "") + phrases["lithium_summary_suffix"])
    if note is None:
        return named
    line = use_line(uses[0], group, facts.now, knowledge)
    return replace(named, facts=(*finding.facts, line), notes=(phrases[note], *finding.notes))
