"""Strict marshmallow schemas that build the knowledge records from YAML (unknown keys are errors)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from service.knowledge_model import (
    AlbuminCorrection,
    Analyte,
    CardRule,
    CardText,
    Citation,
    ConditionRole,
    ConditionSet,
    CorrectionFormula,
    Denervation,
    Direction,
    DrugGroup,
    DrugKind,
    OrderCode,
    OrderKnowledge,
    OrderTrigger,
    OverrideReason,
    ThyroidPattern,
    ValueRange,
    Workup,
    frozen_map,
)

_not_blank = validate.Length(min=1)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _tuple_fields(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {**data, **{name: tuple(data.get(name) or ()) for name in names}}


class _DateField(fields.Field[dt.date]):
    """A date given as a YAML date or an ISO string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ValidationError("Not a valid ISO date.") from exc


def _codes() -> fields.List[str]:
    return fields.List(fields.String(validate=_not_blank), load_default=list)


class CitationSchema(_Strict):
    id = fields.String(required=True, validate=_not_blank)
    title = fields.String(required=True, validate=_not_blank)
    url = fields.Url(required=True, schemes={"http", "https"})
    accessed = _DateField(required=True)
    via = fields.String(required=True, validate=validate.OneOf(["reference", "search"]))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Citation:
        return Citation(**data)


class CitationsFileSchema(_Strict):
    version = fields.String(required=True, validate=_not_blank)
    citations = fields.List(fields.Nested(CitationSchema), required=True, validate=_not_blank)


class RangeSchema(_Strict):
    low = fields.Float(load_default=None)
    high = fields.Float(load_default=None)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ValueRange:
        return ValueRange(**data)


class OrderSchema(_Strict):
    loinc = fields.String(required=True, validate=_not_blank)
    display = fields.String(required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OrderCode:
        return OrderCode(**data)


class AnalyteSchema(_Strict):
    id = fields.String(required=True, validate=_not_blank)
    finding = fields.String(load_default=None)
    display = fields.String(required=True, validate=_not_blank)
    short = fields.String(required=True, validate=_not_blank)
    loinc = fields.List(fields.String(), required=True, validate=_not_blank)
    order = fields.Nested(OrderSchema, required=True)
    canonical_unit = fields.String(required=True, validate=_not_blank)
    molar_mass = fields.Float(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    valence = fields.Integer(load_default=None, validate=validate.Range(min=1))
    unit_aliases = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    critical_source = fields.String(load_default=None)
    alternative_to = fields.String(load_default=None)
    fallback_range = fields.Nested(RangeSchema, required=True)
    range_source = fields.String(required=True, validate=_not_blank)
    critical_low = fields.Float(load_default=None)
    critical_high = fields.Float(load_default=None)
    alert_high = fields.Float(load_default=None)
    flag = fields.List(fields.Enum(Direction, by_value=True), required=True)
    workup = fields.Enum(Workup, by_value=True, required=True)
    lookback_days = fields.Integer(required=True, validate=validate.Range(min=1))
    citations = fields.List(fields.String(), required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Analyte:
        data = _tuple_fields(data, "loinc", "flag", "citations")
        return Analyte(**{**data, "unit_aliases": frozen_map(data["unit_aliases"])})


class FormulaSchema(_Strict):
    factor = fields.Float(required=True)
    reference_albumin = fields.Float(required=True)
    calcium_unit = fields.String(required=True)
    albumin_unit = fields.String(required=True)
    decimals = fields.Integer(required=True, validate=validate.Range(min=0, max=3))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> CorrectionFormula:
        return CorrectionFormula(**data)


class CorrectionSchema(_Strict):
    conventional = fields.Nested(FormulaSchema, required=True)
    si = fields.Nested(FormulaSchema, required=True)
    max_gap_hours = fields.Integer(required=True, validate=validate.Range(min=1))
    citations = fields.List(fields.String(), required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> AlbuminCorrection:
        return AlbuminCorrection(**_tuple_fields(data, "citations"))


class LabsFileSchema(_Strict):
    unit_aliases = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    unit_citations = fields.List(fields.String(), required=True, validate=_not_blank)
    albumin_correction = fields.Nested(CorrectionSchema, required=True)
    analytes = fields.List(fields.Nested(AnalyteSchema), required=True, validate=_not_blank)


class DrugGroupSchema(_Strict):
    id = fields.String(required=True, validate=_not_blank)
    display = fields.String(required=True, validate=_not_blank)
    kind = fields.Enum(DrugKind, by_value=True, required=True)
    evidence = fields.String(required=True, validate=_not_blank)
    ingredients = fields.Dict(keys=fields.String(), values=fields.String(), required=True, validate=_not_blank)
    products = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    atc = _codes()
    atc_prefixes = _codes()
    names = fields.List(fields.String(validate=_not_blank), required=True, validate=_not_blank)
    labs = _codes()
    citations = fields.List(fields.String(), required=True, validate=_not_blank)
    min_duration_days = fields.Integer(load_default=None, validate=validate.Range(min=1))
    recently_stopped_days = fields.Integer(load_default=None, validate=validate.Range(min=1))
    recent_hours = fields.Integer(load_default=None, validate=validate.Range(min=1))
    speaks_without_fasciculation = fields.Boolean(load_default=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> DrugGroup:
        data = _tuple_fields(data, "atc", "atc_prefixes", "names", "labs", "citations")
        return DrugGroup(
            **{**data, "ingredients": frozen_map(data["ingredients"]), "products": frozen_map(data["products"])}
        )


class MedicationsFileSchema(_Strict):
    groups = fields.List(fields.Nested(DrugGroupSchema), required=True, validate=_not_blank)


class ConditionSetSchema(_Strict):
    id = fields.String(required=True, validate=_not_blank)
    display = fields.String(required=True, validate=_not_blank)
    role = fields.Enum(ConditionRole, by_value=True, required=True)
    snomed = _codes()
    icd10cm = _codes()
    icd10cm_prefixes = _codes()
    text = _codes()
    labs = _codes()
    citations = fields.List(fields.String(), required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ConditionSet:
        names = ("snomed", "icd10cm", "icd10cm_prefixes", "text", "labs", "citations")
        return ConditionSet(**_tuple_fields(data, *names))


class DenervationSchema(_Strict):
    always = fields.List(fields.String(validate=_not_blank), required=True, validate=_not_blank)
    with_weakness = _codes()
    weakness = _codes()
    citations = fields.List(fields.String(), required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Denervation:
        return Denervation(**_tuple_fields(data, "always", "with_weakness", "weakness", "citations"))


class ConditionsFileSchema(_Strict):
    denervation = fields.Nested(DenervationSchema, required=True)
    sets = fields.List(fields.Nested(ConditionSetSchema), required=True, validate=_not_blank)


class OverrideReasonSchema(_Strict):
    code = fields.String(required=True, validate=_not_blank)
    display = fields.String(required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OverrideReason:
        return OverrideReason(**data)


class CardRuleSchema(_Strict):
    summary = fields.String(required=True, validate=_not_blank)
    why = fields.String(required=True, validate=_not_blank)
    action = fields.String(required=True, validate=_not_blank)
    labs = _codes()
    citations = fields.List(fields.String(), required=True, validate=_not_blank)


class ThyroidPatternSchema(_Strict):
    label = fields.String(required=True, validate=_not_blank)
    note = fields.String(required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ThyroidPattern:
        return ThyroidPattern(**data)


THYROID_PATTERN_KEYS = [f"{tsh}/{ft4}" for tsh in ("low", "high") for ft4 in ("low", "normal", "high", "absent")]


class SourceSchema(_Strict):
    label = fields.String(required=True, validate=_not_blank)


class CardsFileSchema(_Strict):
    source = fields.Nested(SourceSchema, required=True)
    override_reason_system = fields.Url(required=True, schemes={"http", "https"})
    override_reasons = fields.List(fields.Nested(OverrideReasonSchema), required=True, validate=_not_blank)
    phrases = fields.Dict(keys=fields.String(), values=fields.String(validate=_not_blank), required=True)
    rules = fields.Dict(keys=fields.String(), values=fields.Nested(CardRuleSchema), required=True)
    thyroid_patterns = fields.Dict(
        keys=fields.String(validate=validate.OneOf(THYROID_PATTERN_KEYS)),
        values=fields.Nested(ThyroidPatternSchema),
        required=True,
        validate=validate.Length(equal=len(THYROID_PATTERN_KEYS)),
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> CardText:
        rules = {
            rule_id: CardRule(id=rule_id, **_tuple_fields(raw, "labs", "citations"))
            for rule_id, raw in data["rules"].items()
        }
        return CardText(
            source_label=data["source"]["label"],
            override_reason_system=data["override_reason_system"],
            override_reasons=tuple(data["override_reasons"]),
            phrases=frozen_map(data["phrases"]),
            rules=frozen_map(rules),
            thyroid_patterns=frozen_map(data["thyroid_patterns"]),
        )


_CPT_RANGE = validate.Regexp(r"^\d{5}-\d{5}$", error="must be a CPT range such as 95860-95872")


def _cpt_range(text: str) -> tuple[int, int]:
    low, high = (int(part) for part in text.split("-"))
    if low > high:
        raise ValidationError(f"CPT range {text} runs backwards")
    return low, high


class OrderTriggerSchema(_Strict):
    id = fields.String(required=True, validate=_not_blank)
    display = fields.String(required=True, validate=_not_blank)
    resource = fields.String(required=True, validate=validate.OneOf(["ServiceRequest", "MedicationRequest"]))
    framing = fields.String(required=True, validate=_not_blank)
    cpt_ranges = fields.List(fields.String(validate=_CPT_RANGE), load_default=list)
    snomed = _codes()
    rxnorm = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    atc = _codes()
    text = fields.List(fields.String(validate=_not_blank), required=True, validate=_not_blank)
    citations = fields.List(fields.String(), required=True, validate=_not_blank)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OrderTrigger:
        data = _tuple_fields(data, "snomed", "atc", "text", "citations")
        ranges = tuple(_cpt_range(item) for item in data["cpt_ranges"])
        return OrderTrigger(**{**data, "cpt_ranges": ranges, "rxnorm": frozen_map(data["rxnorm"])})


class OrdersFileSchema(_Strict):
    triggers = fields.List(fields.Nested(OrderTriggerSchema), required=True, validate=_not_blank)
    culprit_groups = fields.List(fields.String(validate=_not_blank), required=True, validate=_not_blank)
    culprit_framing = fields.String(required=True, validate=_not_blank)
    culprit_status = fields.String(required=True, validate=_not_blank)
    safety_framing = fields.String(required=True, validate=_not_blank)
    silent_rules = fields.List(fields.String(validate=_not_blank), load_default=list)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OrderKnowledge:
        return OrderKnowledge(**_tuple_fields(data, "triggers", "culprit_groups", "silent_rules"))
