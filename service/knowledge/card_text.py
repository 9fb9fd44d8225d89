"""cards.yaml as records: every word a card says, per rule and shared (phrases), declared once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from service.knowledge.models import Codes, HttpUrl, NonBlank, Record, Required, read_only

# Placeholders each summary family may use (service/cards.py fills exactly these; checked at load).
SUMMARY_FIELDS: Mapping[str, frozenset[str]] = {
    "lab": frozenset({"value", "age", "suffix"}),
    "drug": frozenset({"drug", "status", "suffix"}),
    "exposure": frozenset({"suffix"}),
    "condition": frozenset({"suffix"}),
    "red-flags": frozenset({"flags", "suffix"}),
    "workup": frozenset({"labs"}),
}
PHRASE_FIELDS: Mapping[str, frozenset[str]] = {
    "footer": frozenset({"version", "rule_id"}),
    "why_heading": frozenset(),
    "do_heading": frozenset(),
    "sources_heading": frozenset(),
    "contributors": frozenset({"items"}),
    "context": frozenset({"items"}),
    "mg_first_suffix": frozenset(),
    "mg_first_note": frozenset(),
    "corrected_note": frozenset({"total", "albumin", "gap"}),
    "uncorrected_note": frozenset({"hours"}),
    "ionised_note": frozenset(),
    "reported_corrected_note": frozenset(),
    "hyperexcitability_known_suffix": frozenset(),
    "hyperexcitability_suspected_suffix": frozenset(),
    "hyperexcitability_suspected_note": frozenset(),
    "hyperexcitability_antibody_note": frozenset(),
    "provoking_note": frozenset({"items"}),
    "red_flags_umn_lmn_suffix": frozenset(),
    "red_flags_umn_lmn_note": frozenset(),
    "red_flags_umn_lmn_action": frozenset(),
    "red_flags_respiratory_note": frozenset(),
    "lithium_summary_suffix": frozenset(),
    "lithium_renal_suffix": frozenset(),
    "lithium_conditions_note": frozenset({"items"}),
    "lithium_due_condition": frozenset({"event"}),
    "lithium_in_range_note": frozenset(),
    "lithium_tsh_note": frozenset(),
    "pth_line_suffix": frozenset({"state", "value"}),
    "calcium_raising_drugs": frozenset({"items"}),
    "lithium_calcium_note": frozenset(),
    "high_calcium_confirm_note": frozenset(),
    "no_result": frozenset(),
    "unit_unknown": frozenset({"value", "age"}),
    "unit_unknown_note": frozenset(),
    "preliminary_note": frozenset(),
    "exam_unread_note": frozenset(),
    "foreign_left_out_note": frozenset(),
    "uncorrected_action": frozenset(),
    "uncorrected_suffix": frozenset(),
    "causes_found": frozenset({"items"}),
    "stale_result": frozenset({"value", "age", "days"}),
    "order_one": frozenset({"lab"}),
    "order_all": frozenset({"count"}),
    "order_reason": frozenset(),
    "drug_active": frozenset(),
    "drug_stopped": frozenset({"age"}),
    "drug_stopped_undated": frozenset(),
    "drug_given": frozenset({"ago"}),
    "drug_started": frozenset({"date"}),
    "drug_by_name": frozenset(),
    "drug_evidence": frozenset({"evidence"}),
    "drug_need": frozenset({"drug"}),
    "condition_recorded": frozenset({"date"}),
    "condition_by_text": frozenset(),
    "denervation_found": frozenset({"states"}),
    "lithium_no_level": frozenset(),
    "lithium_unit_unknown": frozenset(),
    "lithium_last_level": frozenset({"value", "age"}),
    "lithium_no_recent_level": frozenset({"days"}),
    "lithium_cause": frozenset(),
    "lithium_high_cause": frozenset(),
    "preliminary_suffix": frozenset(),
    "final_and_preliminary": frozenset({"final", "flag", "final_age", "preliminary"}),
    "worse_final_note": frozenset(),
    "gap_missing": frozenset(),
    "gap_stale": frozenset(),
    "gap_unreadable": frozenset(),
    # signs, timing, pregnancy
    "condition_observed": frozenset({"date"}),
    "gap_early": frozenset(),
    "gap_contradicted": frozenset(),
    "flag_contradicted": frozenset({"words", "age"}),
    "flag_contradiction_note": frozenset({"words"}),
    "gap_before_onset": frozenset(),
    "before_onset_result": frozenset({"value", "age", "days", "date"}),
    "onset_event": frozenset(),
    "early_result": frozenset({"value", "age", "days", "drug", "change", "date", "window"}),
    "early_note": frozenset({"lab", "days", "drug", "change", "date", "window", "due"}),
    "early_suffix": frozenset(),
    "change_started": frozenset(),
    "change_changed": frozenset(),
    "lead_recent_suffix": frozenset({"days"}),
    "lead_recent_note": frozenset({"days", "onset"}),
    "lead_long_note": frozenset({"date", "years", "onset"}),
    "pregnancy_tsh_suffix": frozenset(),
    "pregnancy_tsh_low_note": frozenset(),
    "pregnancy_tsh_note": frozenset(),
    "pregnancy_tsh_action": frozenset(),
    "pregnancy_calcium_note": frozenset(),
    "pregnancy_calcium_suffix": frozenset(),
    "pregnancy_calcium_action": frozenset(),
    # lithium in context, calcium follow-up
    "lithium_level_due": frozenset({"reason"}),
    "lithium_due_predates": frozenset({"event", "date"}),
    "lithium_due_not_steady": frozenset({"event", "date", "days"}),
    "lithium_event_start": frozenset(),
    "lithium_event_change": frozenset(),
    "lithium_interacting_note": frozenset(),
    "lithium_renal_note": frozenset(),
    "lithium_monitoring_note": frozenset({"labs", "days"}),
    "calcium_follow_up_note": frozenset(),
}


class OverrideReason(Record):
    """An override reason offered on every card."""

    code: NonBlank
    display: NonBlank


class CardRule(Record):
    """The wording of one rule's card (its id is its key in cards.yaml)."""

    id: NonBlank
    summary: NonBlank
    why: NonBlank
    action: NonBlank
    labs: Codes = ()
    citations: Required


class ThyroidPattern(Record):
    """The reading of one TSH direction / free T4 state pair."""

    label: NonBlank
    note: NonBlank


class CardSource(Record):
    """The card source shown on every card."""

    label: NonBlank


THYROID_PATTERN_KEYS = frozenset(
    f"{tsh}/{ft4}" for tsh in ("low", "high") for ft4 in ("low", "normal", "high", "absent")
)
PARATHYROID_PATTERN_KEYS = frozenset(
    f"{calcium}/{pth}" for calcium in ("low", "high") for pth in ("low", "normal", "high", "absent")
)


class CardText(Record):
    """cards.yaml: source, override reasons, shared phrases, per-rule texts and thyroid patterns."""

    source: CardSource
    override_reason_system: HttpUrl
    override_reasons: Annotated[tuple[OverrideReason, ...], Field(min_length=1)]
    phrases: Annotated[Mapping[str, NonBlank], AfterValidator(read_only)]
    rules: Annotated[Mapping[str, CardRule], AfterValidator(read_only)]
    thyroid_patterns: Annotated[Mapping[str, ThyroidPattern], AfterValidator(read_only)]
    # issue 25: the reading of one calcium direction / PTH state pair (same shape as the thyroid patterns)
    parathyroid_patterns: Annotated[Mapping[str, ThyroidPattern], AfterValidator(read_only)]

    @model_validator(mode="before")
    @classmethod
    def _rule_ids(cls, data: Any) -> Any:
        """Each rule's id is its key in the file."""
        rules = data.get("rules") if isinstance(data, dict) else None
        if isinstance(rules, dict):
            return {**data, "rules": {k: {"id": k, **v} if isinstance(v, dict) else v for k, v in rules.items()}}
        return data

    @field_validator("parathyroid_patterns")
    @classmethod
    def _every_parathyroid_pattern(cls, value: Mapping[str, ThyroidPattern]) -> Mapping[str, ThyroidPattern]:
        """Exactly one reading per calcium direction / PTH state pair."""
        if set(value) != PARATHYROID_PATTERN_KEYS:
            raise ValueError(f"expected exactly {sorted(PARATHYROID_PATTERN_KEYS)}")
        return value

    @field_validator("thyroid_patterns")
    @classmethod
    def _every_pattern(cls, value: Mapping[str, ThyroidPattern]) -> Mapping[str, ThyroidPattern]:
        """Exactly one reading per TSH direction / free T4 state pair."""
        if set(value) != THYROID_PATTERN_KEYS:
            raise ValueError(f"expected exactly {sorted(THYROID_PATTERN_KEYS)}")
        return value

    @property
    def source_label(self) -> str:
        """The label of every card's source."""
        return self.source.label
