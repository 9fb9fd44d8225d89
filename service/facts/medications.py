"""Medication uses from MedicationRequest, MedicationStatement and MedicationAdministration (R4 status rules)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement

from service.facts.code_index import RXNORM_SYSTEM, Concept, Confidence, Match, as_list, fact_index, flatten_concepts
from service.facts.dates import parse_instant
from service.facts.gate import read_model
from service.facts.records import PatientRecord, Resource

if TYPE_CHECKING:
    from service.knowledge import Knowledge
    from service.knowledge.models import DrugGroup

log = logging.getLogger(__name__)

# FHIR R4 status value sets (clinical-codes.md §5): on-hold still counts as exposure for chronic causes.
CURRENT = frozenset({"active", "on-hold"})
ENDED = frozenset({"completed", "stopped"})
GIVEN = frozenset({"completed", "in-progress"})
NOT_TAKEN_INTENTS = frozenset({"plan", "proposal"})
# The elements the drug rules read (plus those R4 requires): only these are validated, so a quirk elsewhere in the
# resource (a dosage, a note, a category sent as an object) never costs the drug.
USE_ELEMENTS = frozenset(
    {
        "resourceType",
        "id",
        "status",
        "intent",
        "subject",
        "medicationCodeableConcept",
        "medicationReference",
        "authoredOn",
        "dispenseRequest",
        "effectiveDateTime",
        "effectivePeriod",
        "dateAsserted",
        "contained",
    }
)
MEDICATION_ELEMENTS = frozenset({"resourceType", "id", "code", "ingredient"})
MODELS: dict[str, Any] = {
    "MedicationRequest": MedicationRequest,
    "MedicationStatement": MedicationStatement,
    "MedicationAdministration": MedicationAdministration,
}


class UseStatus(StrEnum):
    """Where a medication stands for the patient."""

    ACTIVE = "active"
    STOPPED = "stopped"
    ADMINISTERED = "administered"


@dataclass(frozen=True)
class MedicationUse:
    """One recorded use of a drug that belongs to a knowledge drug group."""

    group: str
    name: str
    status: UseStatus
    start: dt.datetime | None
    end: dt.datetime | None
    resource_type: str
    confidence: Confidence
    regimen: str = ""  # product codes and dose as recorded: a change between records is a dose change (issue 15)


def _reference_target(ref: str, raw: Resource, record: PatientRecord) -> Resource | None:
    if ref.startswith("#"):
        for item in as_list(raw.get("contained")):
            if isinstance(item, dict) and item.get("resourceType") == "Medication" and item.get("id") == ref[1:]:
                return item
        return None
    if ref in record.medications:
        return record.medications[ref]
    parts = ref.rstrip("/").split("/")
    return record.medications.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def medication_concepts(raw: Resource, record: PatientRecord) -> tuple[list[Any], Resource | None]:
    """The medication's concepts (product code plus ingredients) and the referenced Medication, if any."""
    if isinstance(raw.get("medicationCodeableConcept"), dict):
        return [raw["medicationCodeableConcept"]], None
    reference = raw.get("medicationReference")
    ref = reference.get("reference") if isinstance(reference, dict) else None
    target = _reference_target(ref, raw, record) if isinstance(ref, str) else None
    if target is None:
        display = reference.get("display") if isinstance(reference, dict) else None
        return ([{"text": display}] if isinstance(display, str) else []), None
    ingredients = [i.get("itemCodeableConcept") for i in as_list(target.get("ingredient")) if isinstance(i, dict)]
    return [target.get("code"), *ingredients], target


def short_name(concept: Concept, group: DrugGroup) -> str:
    """A short drug name for summaries: the matched ingredient, else a matched synonym, else the group name."""
    for system, code in concept.codings:
        if system == RXNORM_SYSTEM and code in group.ingredients:
            return group.ingredients[code].capitalize()
    joined = " ".join(concept.texts).lower()
    for name in group.names:  # hundreds with the brand names: a substring test first, the word match only then
        lowered = name.lower()
        if lowered in joined and re.search(rf"\b{re.escape(lowered)}\b", joined):
            return name.capitalize() if name.islower() else name  # a brand keeps its own spelling (ProAir HFA)
    return group.display


def use_window(resource_type: str, raw: Resource) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When a use started and ended, from the dates its resource type records."""
    if resource_type == "MedicationRequest":
        validity = (raw.get("dispenseRequest") or {}).get("validityPeriod") or {}
        return parse_instant(raw.get("authoredOn") or validity.get("start")), parse_instant(validity.get("end"))
    period = raw.get("effectivePeriod") or {}
    start = raw.get("effectiveDateTime") or period.get("start")
    if resource_type == "MedicationStatement":
        start = start or raw.get("dateAsserted")
    return parse_instant(start), parse_instant(period.get("end"))


def use_status(resource_type: str, raw: Resource) -> UseStatus | None:
    """The use status under the R4 value sets, or None when the record does not count at all."""
    status, intent = raw.get("status"), raw.get("intent")
    if not isinstance(status, str):
        return None
    if resource_type == "MedicationAdministration":
        return UseStatus.ADMINISTERED if status in GIVEN else None
    if resource_type == "MedicationRequest" and isinstance(intent, str) and intent in NOT_TAKEN_INTENTS:
        return None
    if status in CURRENT:
        return UseStatus.ACTIVE
    return UseStatus.STOPPED if status in ENDED else None


def _dose(raw: Resource) -> str:
    """The first dose quantity of a request's dosageInstruction or a statement's dosage, as recorded ('' if none)."""
    dosages = as_list(raw.get("dosageInstruction")) or as_list(raw.get("dosage"))
    first = dosages[0] if dosages and isinstance(dosages[0], dict) else {}
    rates = as_list(first.get("doseAndRate"))
    dose = rates[0].get("doseQuantity") if rates and isinstance(rates[0], dict) else None
    if not isinstance(dose, dict):
        return ""
    return f"{dose.get('value')} {dose.get('unit') or dose.get('code') or ''}".strip()


def regimen_key(concept: Concept, raw: Resource) -> str:
    """What identifies a regimen: the coded product(s), else the text, and the dose (for dose-change detection)."""
    codes = ",".join(sorted(f"{system}|{code}" for system, code in concept.codings))
    return f"{codes or ' '.join(concept.texts).lower()}@{_dose(raw)}"


def _is_valid(resource_type: str, raw: Resource, target: Resource | None, matches: tuple[Match, ...]) -> bool:
    """Whether the elements the drug rules read can be read (an unreadable one is tallied by the reader)."""
    rules = [f"drug.{m.key}" for m in matches]
    if read_model(MODELS[resource_type], raw, USE_ELEMENTS, rules) is None:
        return False
    return target is None or read_model(Medication, target, MEDICATION_ELEMENTS, rules) is not None


def _uses(resource_type: str, raw: Resource, record: PatientRecord, knowledge: Knowledge) -> Iterator[MedicationUse]:
    status = use_status(resource_type, raw)
    if status is None:
        return
    concepts, target = medication_concepts(raw, record)
    concept = flatten_concepts(concepts)
    matches = fact_index(knowledge).match_drug(concept)
    if not matches or not _is_valid(resource_type, raw, target, matches):
        return
    start, end = use_window(resource_type, raw)
    for match in matches:
        name = short_name(concept, knowledge.drug_group(match.key))
        regimen = regimen_key(concept, raw)
        yield MedicationUse(match.key, name, status, start, end, resource_type, match.confidence, regimen)


def medication_uses(
    record: PatientRecord, knowledge: Knowledge, signed_orders: Iterable[MedicationUse] = ()
) -> Iterable[MedicationUse]:
    """Every counted use of a known drug group in the record, signed draft orders after the MedicationRequests."""
    sources = (
        ("MedicationRequest", record.medication_requests),
        ("MedicationStatement", record.medication_statements),
        ("MedicationAdministration", record.medication_administrations),
    )
    for resource_type, resources in sources:
        for raw in resources:
            if isinstance(raw, dict):
                yield from _uses(resource_type, raw, record, knowledge)
        if resource_type == "MedicationRequest":
            yield from signed_orders
