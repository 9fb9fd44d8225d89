"""The patient's record for the page, read exactly as the hooks read it: same prefetch queries, client and budget."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cds_hooks import FhirAuthorization, HookRequest, PrefetchResolver
from cds_hooks.errors import FhirHttpError, FhirServerNotAllowed, FhirTimeout, PreconditionFailed
from cds_hooks.fhir_client import ClientFactory
from service.facts.ownership import PatientInContext, WrongPatient
from service.facts.records import PatientRecord
from service.hooks import Clock, patient_view_definition
from service.knowledge import Knowledge
from service.prefetch_keys import prefetched_record
from service.workup.messages import WorkupStop

TOKEN_REJECTED = frozenset({401, 403})


@dataclass(frozen=True)
class Grant:
    """Where to read and with what: the FHIR base (``iss``), the bearer token, its scope and the patient."""

    iss: str
    access_token: str
    scope: str
    patient: str


def _reason(error: PreconditionFailed) -> str:
    if isinstance(error, WrongPatient):
        return "wrong-patient"
    cause = error.__cause__
    if isinstance(cause, FhirHttpError) and cause.status in TOKEN_REJECTED:
        return "expired"  # the FHIR server refused the token: the session has run out
    if isinstance(cause, FhirServerNotAllowed):
        return "not-allowed"
    return "timeout" if isinstance(cause, FhirTimeout) else "unavailable"


def _now() -> datetime:
    return datetime.now(UTC)


def read_record(
    grant: Grant, knowledge: Knowledge, client_factory: ClientFactory, clock: Clock = _now
) -> PatientRecord:
    """Every prefetch query of the patient-view service, fetched from ``iss`` as the hook resolves them.

    The resolver comes from the service definition (``PrefetchResolver.for_service``): the same paging test and the
    same optional exam key, so an exam search the server fails is "examination findings were not read" here too.
    """
    authorization = FhirAuthorization(grant.access_token, "Bearer", 0, grant.scope, "workup", grant.patient)
    request = HookRequest(
        "patient-view",
        f"workup-{uuid.uuid4()}",
        {"patientId": grant.patient, "userId": "workup"},
        fhir_server=grant.iss,
        fhir_authorization=authorization,
    )
    try:
        definition = patient_view_definition(knowledge, clock)
        prefetched = PrefetchResolver.for_service(definition, client_factory).resolve(request)
        # The same edge as the hooks: another patient's Patient stops the page; their other resources are left out.
        return prefetched_record(prefetched, PatientInContext(grant.patient, grant.iss))
    except PreconditionFailed as exc:
        raise WorkupStop(_reason(exc)) from exc
