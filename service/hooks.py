"""The CDS services this app offers, with prefetch templates narrow enough to be fast."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cds_hooks import HookRequest, HookResponse, Prefetched, ServiceDefinition
from service.facts.fallback_paging import labs_pages_enough
from service.facts.skip_log import skip_log
from service.knowledge import Knowledge
from service.order_hooks import ORDER_HOOKS, order_service_definitions
from service.prefetch_keys import EXAM_KEY, OPTIONAL_PREFETCH, patient_in_context, prefetched_record
from service.screen import screen_patient

# One id per hook: CDS clients key services by id, so ids shared across hooks collapse into one (docs/order-hooks.md).
# The patient-view id is the original one, so existing EHR configurations keep working.
SERVICE_ID = "fasciculation-reversible-causes"
ORDER_SELECT_SERVICE_ID = f"{SERVICE_ID}-order-select"
ORDER_SIGN_SERVICE_ID = f"{SERVICE_ID}-order-sign"
SERVICE_IDS = {
    "patient-view": SERVICE_ID,
    "order-select": ORDER_SELECT_SERVICE_ID,
    "order-sign": ORDER_SIGN_SERVICE_ID,
}
Clock = Callable[[], datetime]


def patient_prefetch(knowledge: Knowledge) -> dict[str, str]:
    """Prefetch for the screen: the patient, labs by LOINC, exam findings, medications and conditions."""
    # The pregnancy status question (social-history, no lab) rides with the labs: TSH and calcium read differently.
    questions = knowledge.observed_signs.question_loinc if knowledge.observed_signs else ()
    loinc = ",".join(f"http://loinc.org|{code}" for code in (*knowledge.lab_loinc_codes, *questions))
    patient = "Patient/{{context.patientId}}"
    return {
        "patient": patient,
        "labs": f"Observation?patient={patient}&code={loinc}&_sort=-date&_count=200",
        # Signs charted on examination (fasciculations, weakness, atrophy, bulbar signs, reflexes) as Observations of
        # category exam (HL7 observation-category; any system, so local category codings match too): issue 15.
        EXAM_KEY: f"Observation?patient={patient}&category=exam&_sort=-date&_count=200",
        "conditions": f"Condition?patient={patient}&_count=200",
        "medicationRequests": f"MedicationRequest?patient={patient}&_include=MedicationRequest:medication&_count=200",
        "medicationStatements": (
            f"MedicationStatement?patient={patient}&_include=MedicationStatement:medication&_count=200"
        ),
        # Peri-operative succinylcholine is recorded as an administration, not a prescription.
        "medicationAdministrations": (
            f"MedicationAdministration?patient={patient}&_include=MedicationAdministration:medication&_count=200"
        ),
    }


def patient_view_handler(knowledge: Knowledge, clock: Clock) -> Callable[[HookRequest, Prefetched], HookResponse]:
    """The patient-view handler: prefetched data -> patient record -> screen -> cards."""

    def handle(request: HookRequest, prefetched: Prefetched) -> HookResponse:
        with skip_log(request.hook_instance):
            record = prefetched_record(prefetched, patient_in_context(request))
            result = screen_patient(record, now=clock(), hook_instance=request.hook_instance, knowledge=knowledge)
        # Rule ids are logged on the toolkit's one line per call (service.cards.rules_note).
        return HookResponse(cards=tuple(result.cards))

    return handle


def patient_view_definition(knowledge: Knowledge, clock: Clock) -> ServiceDefinition:
    """The patient-view service: its prefetch, paging test and optional key are what every way in resolves with."""
    return ServiceDefinition(
        id=SERVICE_ID,
        hook="patient-view",
        title="Fasciculations: reversible causes first",
        description=(
            "When a patient has documented fasciculations (or ALS, MS or peripheral neuropathy), checks calcium, "
            "magnesium, thyroid and related labs, culprit drugs and toxic exposures before twitching is put down "
            "to disease progression, and offers orders for missing or stale labs."
        ),
        prefetch=patient_prefetch(knowledge),
        # The labs search is newest first: the fall-back stops paging once no later page can change a result.
        pages_enough={"labs": labs_pages_enough(knowledge)},
        optional_prefetch=OPTIONAL_PREFETCH,
        handler=patient_view_handler(knowledge, clock),
        usage_requirements="Needs read access to Patient, Observation, Condition, MedicationRequest, "
        "MedicationStatement, MedicationAdministration and Medication for the patient in context.",
    )


def service_definitions(knowledge: Knowledge, clock: Clock) -> list[ServiceDefinition]:
    """Every service of the app, in discovery order; the order hooks resolve their prefetch like patient-view."""
    patient_view = patient_view_definition(knowledge, clock)
    order_ids = {hook: SERVICE_IDS[hook] for hook in ORDER_HOOKS}
    return [patient_view, *order_service_definitions(order_ids, patient_view, knowledge, clock)]
