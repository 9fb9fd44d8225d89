"""Knowledge: the whole validated knowledge base, as the rules read it."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from service.knowledge.card_text import CardText
from service.knowledge.condition_models import ConditionSet, Denervation, NicotinicToxicity, ObservedSigns
from service.knowledge.models import (
    AlbuminCorrection,
    Analyte,
    Citation,
    CodeSystemVersion,
    ConditionRole,
    DrugGroup,
    DrugKind,
    LabFamily,
    LithiumContext,
    OnsetLead,
    Parathyroid,
    SteadyState,
)
from service.knowledge.order_rules import OrderKnowledge
from service.knowledge.reviews import ALL_RULES, Review


@dataclass(frozen=True, eq=False)
class Knowledge:
    """Everything the screen knows, validated and read-only (hashable by identity, so indexes can be cached)."""

    version: str
    citations: Mapping[str, Citation]
    analytes: Mapping[str, Analyte]
    unit_aliases: Mapping[str, str]
    albumin_correction: AlbuminCorrection
    families: tuple[LabFamily, ...]
    drug_groups: tuple[DrugGroup, ...]
    condition_sets: tuple[ConditionSet, ...]
    cards: CardText
    lab_loinc_codes: tuple[str, ...]
    orders: OrderKnowledge
    denervation: Denervation
    lithium_context: LithiumContext  # issue 15: what bears on a lithium level
    unit_citations: tuple[str, ...] = ()
    # issue 15 (i15a): signs from Observations, nicotinic toxicity, steady-state timing, onset lead
    observed_signs: ObservedSigns | None = None
    nicotinic_toxicity: NicotinicToxicity | None = None
    steady_state: tuple[SteadyState, ...] = ()
    onset_lead: OnsetLead | None = None
    # Codes of local dose forms (eye drops, creams ...) of culprit ingredients: recognised, but no culprit
    local_rxnorm: frozenset[str] = frozenset()
    local_atc: frozenset[str] = frozenset()
    product_sources: tuple[str, ...] = ()  # citations of the generated products (medications_products.yaml)
    # issue 25: sources of how records are read (panels and their components, Condition status and abatement)
    reading_citations: tuple[str, ...] = ()
    parathyroid: Parathyroid | None = None  # issue 25: calcium read with PTH; calcium-raising drugs
    # citations.yaml code_systems: system URI -> the release its codes were checked against
    code_systems: Mapping[str, CodeSystemVersion] = field(default_factory=lambda: MappingProxyType({}))
    reviews: tuple[Review, ...] = ()  # reviews.yaml: who signed off which version and rules

    def approved(self) -> bool:
        """Whether a review of this version approved every rule."""
        return any(r.version == self.version and r.outcome == "approved" and ALL_RULES in r.rules for r in self.reviews)

    def analyte(self, analyte_id: str) -> Analyte:
        """The analyte with this id."""
        return self.analytes[analyte_id]

    def drug_group(self, group_id: str) -> DrugGroup:
        """The drug group with this id."""
        return self._drug_groups_by_id[group_id]

    @functools.cached_property
    def _drug_groups_by_id(self) -> dict[str, DrugGroup]:
        return {group.id: group for group in self.drug_groups}

    @functools.cached_property
    def _same_question(self) -> dict[str, frozenset[str]]:
        """Analyte id -> the labs of its family (built once: the rules ask on every call)."""
        return {lab: frozenset(family.labs) for family in reversed(self.families) for lab in family.labs}

    def contributor_groups(self, analyte_id: str) -> tuple[DrugGroup, ...]:
        """Drug groups (lithium aside) whose labs answer this analyte's question, in file order."""
        # The loader refuses a group lab that is not an analyte, so an unknown id has no contributors.
        return self._contributor_groups.get(analyte_id, ())

    @functools.cached_property
    def _contributor_groups(self) -> dict[str, tuple[DrugGroup, ...]]:
        """Analyte id -> its contributor drug groups (built once: every lab card asks)."""
        non_lithium = [g for g in self.drug_groups if g.kind != DrugKind.LITHIUM]
        return {lab: tuple(g for g in non_lithium if self.same_question(lab) & set(g.labs)) for lab in self.analytes}

    def sets_with_role(self, role: ConditionRole) -> tuple[ConditionSet, ...]:
        """Condition sets of one role, in file order."""
        return tuple(item for item in self.condition_sets if item.role == role)

    def family_of(self, analyte_id: str) -> LabFamily | None:
        """The family an analyte belongs to, if any."""
        return next((family for family in self.families if analyte_id in family.labs), None)

    def same_question(self, analyte_id: str) -> frozenset[str]:
        """The analyte and every lab that answers the same question (total and ionised calcium)."""
        return self._same_question.get(analyte_id) or frozenset({analyte_id})
