"""The raw FHIR resources of one patient, grouped by type, from prefetch or from a Bundle file.

Nothing here validates clinical content: resources stay plain JSON dicts (their read elements conformed to R4
cardinalities) so that only the few a rule needs are ever parsed into ``fhir.resources`` models (full validation
of everything is 20-70x slower than JSON parsing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.facts.conform import conform_resource
from service.facts.ownership import Entry, PatientInContext, own_entries

Resource = dict[str, Any]

# Resource types the screen reads; anything else in a bundle is passed over.
KNOWN_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Medication",
    "ServiceRequest",
)


@dataclass(frozen=True)
class PatientRecord:
    """One patient's resources, by type; ``medications`` maps every known reference to a Medication."""

    patient: Resource | None = None
    observations: tuple[Resource, ...] = ()
    conditions: tuple[Resource, ...] = ()
    medication_requests: tuple[Resource, ...] = ()
    medication_statements: tuple[Resource, ...] = ()
    medication_administrations: tuple[Resource, ...] = ()
    medications: Mapping[str, Resource] = field(default_factory=dict)
    draft_orders: tuple[Resource, ...] = ()  # the entries of an order hook's draftOrders, conformed, in order
    exam_findings_read: bool = True  # False when the exam-finding Observations could not be had (optional prefetch)
    foreign_left_out: int = 0  # resources left out because they belonged to another patient (service.facts.ownership)

    @property
    def patient_id(self) -> str | None:
        """The Patient's id, when known."""
        return self.patient.get("id") if self.patient else None


def iter_entries(value: Any) -> Iterable[Entry]:
    """(fullUrl, conformed resource) for a resource or every entry of a Bundle (nested Bundles included).

    Tolerant of what clients send (service.facts.conform): no ``Bundle.type``, ``entry`` as a single object, and the
    cardinality quirks of the elements the screen reads.
    """
    if not isinstance(value, dict):
        return
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry")
        for entry in [entries] if isinstance(entries, dict) else entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                resource = entry["resource"]
                if resource.get("resourceType") == "Bundle":
                    yield from iter_entries(resource)
                else:
                    full_url = entry.get("fullUrl")
                    yield (full_url if isinstance(full_url, str) else None), conform_resource(resource)
    else:
        yield None, conform_resource(value)


def _draft_entries(draft_orders: Any) -> tuple[Resource, ...]:
    """The resources of draftOrders' entries (an ``entry`` object is one entry), each conformed."""
    entries = draft_orders.get("entry") if isinstance(draft_orders, dict) else None
    listed = [entries] if isinstance(entries, dict) else entries if isinstance(entries, list) else []
    resources = (e["resource"] for e in listed if isinstance(e, dict) and isinstance(e.get("resource"), dict))
    return tuple(conform_resource(resource) for resource in resources)


def _draft_medications(draft_orders: Any) -> dict[str, Resource]:
    """The Medications draftOrders carry, by reference and fullUrl (they win over prefetched ones)."""
    found: dict[str, Resource] = {}
    for full_url, resource in iter_entries(draft_orders):
        if resource.get("resourceType") == "Medication":
            resource_id = resource.get("id")
            by_id = f"Medication/{resource_id}" if isinstance(resource_id, str) else None
            for key in (by_id, full_url):
                if key:
                    found.setdefault(key, resource)
    return found


def build_record(
    values: Iterable[Any],
    draft_orders: Any = None,
    *,
    exam_findings_read: bool = True,
    patient: PatientInContext | None = None,
) -> PatientRecord:
    """Resources (or Bundles) by type; with ``patient``, only what belongs to that patient (the rest counted)."""
    entries = [entry for value in values for entry in iter_entries(value)]
    return record_from_entries(entries, draft_orders, exam_findings_read=exam_findings_read, patient=patient)


def record_from_entries(
    entries: Sequence[Entry],
    draft_orders: Any = None,
    *,
    exam_findings_read: bool = True,
    patient: PatientInContext | None = None,
) -> PatientRecord:
    """The record of ``entries``, type/id duplicates dropped; ``draft_orders`` kept apart (not yet the record)."""
    drafts: list[Entry] = [(None, resource) for resource in _draft_entries(draft_orders)]
    left_out = 0
    if patient is not None:  # one patient per call: another patient's resources never reach the rules
        own = patient.own_references(entries)
        kept, kept_drafts = own_entries(entries, own, patient), own_entries(drafts, own, patient)
        left_out = len(entries) - len(kept) + len(drafts) - len(kept_drafts)
        entries, drafts = kept, kept_drafts
    grouped, medications = _grouped(entries)
    return PatientRecord(
        patient=grouped["Patient"][0] if grouped["Patient"] else None,
        observations=tuple(grouped["Observation"]),
        conditions=tuple(grouped["Condition"]),
        medication_requests=tuple(grouped["MedicationRequest"]),
        medication_statements=tuple(grouped["MedicationStatement"]),
        medication_administrations=tuple(grouped["MedicationAdministration"]),
        medications={**medications, **_draft_medications(draft_orders)},
        draft_orders=tuple(resource for _, resource in drafts),
        exam_findings_read=exam_findings_read,
        foreign_left_out=left_out,
    )


def _grouped(entries: Iterable[Entry]) -> tuple[dict[str, list[Resource]], dict[str, Resource]]:
    """(resources by known type, type/id duplicates dropped; Medications by reference and fullUrl)."""
    grouped: dict[str, list[Resource]] = {t: [] for t in KNOWN_TYPES}
    medications: dict[str, Resource] = {}
    seen: set[tuple[str, str]] = set()
    for full_url, resource in entries:
        resource_type = resource.get("resourceType")
        if resource_type not in grouped:
            continue
        resource_id = resource.get("id")
        if isinstance(resource_id, str):
            if (resource_type, resource_id) in seen:
                continue
            seen.add((resource_type, resource_id))
        grouped[resource_type].append(resource)
        if resource_type == "Medication":
            if isinstance(resource_id, str):
                medications[f"Medication/{resource_id}"] = resource
            if full_url:
                medications[full_url] = resource
    return grouped, medications
