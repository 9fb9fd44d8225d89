"""The prefetch keys whose absence the screen must know about, and the record built from a call's prefetched data."""

from __future__ import annotations

from typing import Any

from cds_hooks import HookRequest, Prefetched
from service.facts.ownership import Entry, PatientInContext, check_patients
from service.facts.records import PatientRecord, iter_entries, record_from_entries

EXAM_KEY = "examObservations"
# Exam-finding Observations came after clients were configured (issue 15): when a client does not send the key and
# it cannot be fetched, the patient is still screened (signs from Conditions only) rather than refused with 412,
# and every card says the examination was not read.
OPTIONAL_PREFETCH = frozenset({EXAM_KEY})


def patient_in_context(request: HookRequest) -> PatientInContext:
    """The one patient a hook call is about: ``context.patientId`` under the call's ``fhirServer``."""
    return PatientInContext(str(request.context.get("patientId") or ""), request.fhir_server)


def prefetched_record(prefetched: Prefetched, patient: PatientInContext, draft_orders: Any = None) -> PatientRecord:
    """The patient's record from the resolved prefetch (``None``: "no data"); a left-out exam key is remembered.

    A Patient that is not ``patient`` in any key stops the call (``WrongPatient``, naming the key); any other
    resource of another patient is left out and counted (``service.facts.ownership``).
    """
    entries: list[Entry] = []
    for key, value in prefetched.items():
        if value is None:
            continue
        found = list(iter_entries(value))
        check_patients(key, found, patient)
        entries.extend(found)
    return record_from_entries(entries, draft_orders, exam_findings_read=EXAM_KEY in prefetched, patient=patient)
