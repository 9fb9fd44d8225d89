"""One patient per call, the edge's first rule: which resources belong to the patient in context.

A resource belongs when its ``subject`` / ``patient`` reference resolves to ``context.patientId``: relative
(``Patient/id``), absolute under the call's ``fhirServer`` base, or the fullUrl (``urn:uuid:`` or URL) of that
Patient's entry in the call's Bundles. A Patient resource that is someone else stops the call (``WrongPatient``,
412: the data for the patient in context cannot be had from this answer). Any other resource of another patient,
or whose reference cannot be resolved to this one, is left out and counted (``skip_log``: no ids). A resource with
no subject at all names nobody and is kept (the client put it under this patient's query).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cds_hooks.errors import PreconditionFailed
from service.facts.skip_log import note_foreign

Resource = dict[str, Any]
Entry = tuple[str | None, Resource]  # (fullUrl, resource)
SUBJECT_ELEMENTS = ("subject", "patient")
OWNERLESS_TYPES = frozenset({"Medication", "Organization", "Practitioner", "PractitionerRole", "Location"})


class WrongPatient(PreconditionFailed):
    """412: a prefetched or fetched Patient is not the patient in context; ``prefetch`` names the key."""

    error = "wrong_patient"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"prefetch.{key} holds a Patient other than context.patientId: no cards for a mixed-up record", [key]
        )
        self.key = key

    def to_body(self) -> dict[str, Any]:
        """The usual 412 body plus the two fields that disagree."""
        return {**super().to_body(), "disagrees": [f"prefetch.{self.key}", "context.patientId"]}


@dataclass(frozen=True)
class PatientInContext:
    """The one patient a call is about: ``context.patientId`` and the ``fhirServer`` base its references use."""

    patient_id: str
    fhir_server: str | None = None

    def own_references(self, entries: Iterable[Entry]) -> frozenset[str]:
        """Every reference string that names this patient in a call made of ``entries``."""
        names = {f"Patient/{self.patient_id}"}
        if self.fhir_server:
            names.add(f"{self.fhir_server.rstrip('/')}/Patient/{self.patient_id}")
        for full_url, resource in entries:
            if full_url and resource.get("resourceType") == "Patient" and resource.get("id") == self.patient_id:
                names.add(full_url)
        return frozenset(names)


def check_patients(key: str, entries: Iterable[Entry], patient: PatientInContext) -> None:
    """Raise ``WrongPatient`` when a Patient among one key's ``entries`` is not the patient in context."""
    for _, resource in entries:
        if resource.get("resourceType") == "Patient" and resource.get("id") != patient.patient_id:
            raise WrongPatient(key)


def _reference(value: Any) -> str | None:
    """The reference string of a Reference (a bare string is read as one); None when it has none."""
    if isinstance(value, str):
        return value
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) else None


def belongs(resource: Resource, own: frozenset[str], patient: PatientInContext) -> bool:
    """Whether ``resource`` is the patient, or every subject / patient reference of it is one of the ``own`` ones."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id") == patient.patient_id
    if resource.get("resourceType") in OWNERLESS_TYPES:
        return True
    for element in SUBJECT_ELEMENTS:
        value = resource.get(element)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            reference = _reference(item)
            if reference is None or reference.split("/_history/")[0] not in own:
                return False
    return True


def own_entries(entries: Iterable[Entry], own: frozenset[str], patient: PatientInContext) -> list[Entry]:
    """The entries that belong to the patient; each one left out is counted by type for the request's skip line."""
    kept: list[Entry] = []
    for entry in entries:
        if belongs(entry[1], own, patient):
            kept.append(entry)
        else:
            note_foreign(str(entry[1].get("resourceType") or "resource"))
    return kept
