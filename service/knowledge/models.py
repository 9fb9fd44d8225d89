"""The knowledge records, declared once: pydantic models that validate service/knowledge/*.yaml and that the rules read.

Every model is frozen and refuses unknown keys; lists become tuples and mappings read-only, so nothing can change a
loaded knowledge base. Cross-file references (citations, labs, rules) are checked by the loader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

V = TypeVar("V")

NonBlank = Annotated[str, StringConstraints(min_length=1)]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
Codes = tuple[NonBlank, ...]
Required = Annotated[tuple[NonBlank, ...], Field(min_length=1)]
PositiveInt = Annotated[int, Field(ge=1)]


def read_only(value: Mapping[str, V]) -> Mapping[str, V]:
    return MappingProxyType(dict(value))


StrMap = Annotated[Mapping[str, str], AfterValidator(read_only)]


class Record(BaseModel):
    """A knowledge record: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class Direction(StrEnum):
    """Which side of the range a result falls on."""

    LOW = "low"
    HIGH = "high"


class Workup(StrEnum):
    """Whether a lab belongs to the standard twitching work-up."""

    CORE = "core"
    BUNDLED = "bundled"
    NONE = "none"


class DrugKind(StrEnum):
    """How a drug group relates to fasciculations."""

    LITHIUM = "lithium"
    DIRECT = "direct"
    ELECTROLYTE = "electrolyte"
    THYROID = "thyroid"
    # raises another drug's level (lithium) - no card of its own, named on that drug's card
    INTERACTING = "interacting"
    # lowers a vitamin (metformin and B12) - its lab joins the work-up when missing
    NUTRIENT = "nutrient"


class ConditionRole(StrEnum):
    """What a condition set means for the screen."""

    TRIGGER = "trigger"
    DISEASE = "disease"
    CONTEXT = "context"
    EXPOSURE = "exposure"
    RED_FLAG = "red_flag"
    DENERVATION = "denervation"
    PREGNANCY = "pregnancy"
    # issue 25: common provokers of twitching (caffeine, stress, poor sleep, exercise, a recent viral illness): a
    # low-key note on the work-up card only, never a card, never beside a red flag
    PROVOKING = "provoking"


class Citation(Record):
    """A public source."""

    id: NonBlank
    title: NonBlank
    url: HttpUrl
    accessed: dt.date
    via: Literal["reference", "search"]


class ValueRange(Record):
    """A low/high pair in one unit; either side may be open."""

    low: float | None = None
    high: float | None = None


class OrderCode(Record):
    """The LOINC code to order for an analyte."""

    loinc: NonBlank
    display: NonBlank


class Analyte(Record):
    """One laboratory concept: its LOINC set, unit data, ranges, thresholds and look-back window."""

    id: NonBlank
    display: NonBlank
    short: NonBlank
    loinc: Required
    order: OrderCode
    canonical_unit: NonBlank
    fallback_range: ValueRange
    range_source: NonBlank
    flag: tuple[Direction, ...]
    workup: Workup
    lookback_days: PositiveInt
    citations: Required
    finding: str | None = None
    critical_low: float | None = None
    critical_high: float | None = None
    alert_high: float | None = None
    molar_mass: Annotated[float, Field(gt=0)] | None = None  # g/mol, for mass <-> mole conversion
    valence: PositiveInt | None = None  # charge, for mole <-> equivalent conversion
    unit_aliases: StrMap = {}
    critical_source: str | None = None
    alternative_to: str | None = None  # a recent result of this analyte answers the need for that one
    # a qualitative screen (CASPR2, LGI1): a coded or written result ("Positive") is kept as reported, never judged
    qualitative: bool = False
    # a need for this lab counts only while one of these condition sets is current (B12: neuropathy)
    needed_only_with: Codes = ()
    follow_up: Codes = ()  # labs offered on this analyte's abnormal card when not recent (Ca -> PTH, ...)
    decimals: Annotated[int, Field(ge=0, le=4)] = 2  # set from labs.yaml display_decimals by the loader


class LabFamily(Record):
    """Labs that answer one clinical question (total and ionised calcium): a need for any is one need."""

    id: NonBlank
    labs: Annotated[tuple[NonBlank, ...], Field(min_length=2)]
    order_as: NonBlank  # the member ordered when the family is needed (total calcium, with its albumin)
    answered_by: NonBlank  # a recent, understood result of this member answers the whole family...
    also_answered_by: Codes = ()  # ...as does one of these (a laboratory-reported corrected calcium, issue 25)...
    answers_also: Codes = ()  # ...and these labs, needed only to read another member (albumin)
    citations: Required


class CorrectionFormula(Record):
    """Corrected Ca = Ca + factor x (reference_albumin - albumin), in one unit system."""

    factor: float
    reference_albumin: float
    calcium_unit: str
    albumin_unit: str
    decimals: Annotated[int, Field(ge=0, le=3)]


class AlbuminCorrection(Record):
    """Both unit systems of the albumin correction and the allowed gap between the draws."""

    conventional: CorrectionFormula
    si: CorrectionFormula
    max_gap_hours: PositiveInt
    citations: Required


class Panels(Record):
    """Panels whose components carry analytes (a blood gas): fetched with the labs, read component by component."""

    loinc: Required
    citations: Required


class Parathyroid(Record):
    """How calcium is read with PTH, and the drug groups named on a high calcium card (issue 25)."""

    pth: NonBlank
    calcium_raising_groups: Codes = ()
    citations: Required


class OnsetTiming(Record):
    """A result drawn this long before the twitching was first recorded no longer answers it (issue 25)."""

    grace_days: Annotated[int, Field(ge=0)]
    citations: Required


class LabsFile(Record):
    """labs.yaml."""

    unit_aliases: StrMap = {}
    unit_citations: Required
    panels: Panels | None = None
    parathyroid: Parathyroid | None = None
    onset_timing: OnsetTiming | None = None
    albumin_correction: AlbuminCorrection
    families: tuple[LabFamily, ...] = ()
    display_decimals: Mapping[str, Annotated[int, Field(ge=0, le=4)]]  # per analyte id, in its canonical unit
    analytes: Annotated[tuple[Analyte, ...], Field(min_length=1)]


class DrugGroup(Record):
    """A class of drugs matched by RxNorm, ATC or name."""

    id: NonBlank
    display: NonBlank
    kind: DrugKind
    evidence: NonBlank
    ingredients: StrMap = {}  # RxNorm ingredient RxCUIs; a group needs these, ATC codes or ATC prefixes
    products: StrMap = {}
    atc: Codes = ()
    atc_prefixes: Codes = ()
    names: Required
    labs: Codes = ()
    citations: Required
    min_duration_days: PositiveInt | None = None
    recently_stopped_days: PositiveInt | None = None
    recent_hours: PositiveInt | None = None
    speaks_without_fasciculation: bool = True
    withdrawal_only: bool = False  # only a recent stop counts (benzodiazepine withdrawal), not current use
    # a stop without a recorded end counts only when the use started within this many days (a cold remedy
    # with doxylamine ordered years ago and marked stopped is not a recent stop)
    undated_stop_start_days: PositiveInt | None = None
    # Longer brand names of other drugs that must not match a (brand) name of this group in text: "Sudafed PE"
    # (phenylephrine) beside "Sudafed" (pseudoephedrine). Filled from medications_products.yaml.
    name_exclusions: Codes = ()
    contributor_note: NonBlank | None = None  # a sentence on the lab cards that name this group as a contributor

    @model_validator(mode="after")
    def _coded(self) -> DrugGroup:
        """A group is recognised by at least one code system besides its names."""
        if not (self.ingredients or self.atc or self.atc_prefixes):
            raise ValueError("a drug group needs ingredients, atc or atc_prefixes")
        if self.withdrawal_only and self.recently_stopped_days is None:
            raise ValueError("withdrawal_only needs recently_stopped_days")
        return self


class LithiumContext(Record):
    """What bears on a lithium level: interacting drugs, renal function, steady state, own work-up."""

    interacting_groups: Required  # drug groups that raise lithium levels (thiazides, ACE inhibitors, ARBs, NSAIDs)
    steady_state_days: PositiveInt  # a level drawn sooner after a start or dose change is not yet steady state
    # creatinine and eGFR, each with the direction that means reduced clearance (which raises lithium levels)
    renal_labs: Annotated[Mapping[str, Direction], AfterValidator(read_only), Field(min_length=1)]
    monitoring_labs: Codes = ()  # TSH and calcium: lithium causes hypothyroidism and hyperparathyroidism
    monitoring_days: PositiveInt  # how recent those must be
    citations: Required
    # issue 25: condition sets that lower lithium clearance (AKI, dehydration, CKD): named, the level due again
    raising_conditions: Codes = ()


# --- timing: steady state and onset lead ----------------------------------------------------------------------
class SteadyState(Record):
    """A lab that does not yet reflect a drug's dose until ``days`` after a start or dose change."""

    group: NonBlank
    lab: NonBlank
    days: PositiveInt
    citations: Required


class OnsetLead(Record):
    """How the start of a culprit drug relative to the first record of twitching weighs it as a lead."""

    recent_days: PositiveInt  # started at most this long before the twitching: a stronger lead
    long_standing_days: PositiveInt  # taken longer than this before the twitching: a weaker lead
    citations: Required


class MedicationsFile(Record):
    """medications.yaml."""

    groups: Annotated[tuple[DrugGroup, ...], Field(min_length=1)]
    steady_state: tuple[SteadyState, ...] = ()
    onset_lead: OnsetLead
    lithium_context: LithiumContext


SourceMaps = Annotated[Mapping[str, StrMap], AfterValidator(read_only)]  # source (citation id) -> code -> name


class GeneratedGroup(Record):
    """One drug group's generated entries, each keyed by the source it was taken from."""

    rxnorm: SourceMaps = {}  # RxNorm drug and brand concepts holding the group's ingredients
    brands: Annotated[Mapping[str, Codes], AfterValidator(read_only)] = {}  # brand names matched in text
    name_exclusions: Codes = ()  # longer brand names of other drugs
    atc: SourceMaps = {}  # WHO ATC combination codes


class LocalProducts(Record):
    """Codes of local dose forms and local-use ATC classes: recognised, but no culprit."""

    rxnorm: SourceMaps = {}
    atc: SourceMaps = {}


class ProductsFile(Record):
    """medications_products.yaml (generated by service/knowledge/generate_products.py)."""

    sources: Required
    groups: Annotated[Mapping[str, GeneratedGroup], AfterValidator(read_only)]
    local_products: LocalProducts


class CodeSystemVersion(Record):
    """The release of a code system that the codes citing ``citation`` were checked against."""

    version: NonBlank
    citation: NonBlank


class CitationsFile(Record):
    """citations.yaml."""

    version: NonBlank
    # code system URI -> its checked release; the knowledge export pins it on the value sets of groups citing it
    code_systems: Annotated[Mapping[str, CodeSystemVersion], AfterValidator(read_only)] = {}
    citations: Annotated[tuple[Citation, ...], Field(min_length=1)]
