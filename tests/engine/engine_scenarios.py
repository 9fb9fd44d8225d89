"""Scenario patients as transaction Bundles with urn:uuid references, the way Synthea and EHR exports write them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HL7_CS = "http://terminology.hl7.org/CodeSystem"


def _stamp(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    full_url = f"urn:uuid:{uuid.uuid4()}"
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def _lab(patient: str, loinc: str, display: str, value: float, unit: str, days_ago: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": f"{HL7_CS}/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
        "subject": {"reference": patient},
        "effectiveDateTime": _stamp(days_ago),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def fasciculation_transaction(family: str = "Twitch", extra_calcium_results: int = 6) -> dict[str, Any]:
    """Documented fasciculations, low magnesium, lithium by Medication reference and a series of calcium results."""
    patient = _entry(
        {
            "resourceType": "Patient",
            "name": [{"family": family, "given": ["Engine"]}],
            "gender": "female",
            "birthDate": "1961-03-04",
        }
    )
    ref = patient["fullUrl"]
    lithium = _entry(
        {
            "resourceType": "Medication",
            "code": {
                "coding": [{"system": RXNORM, "code": "197889", "display": "Lithium Carbonate 300 MG Oral Capsule"}],
                "text": "Lithium Carbonate 300 MG Oral Capsule",
            },
        }
    )
    condition = _entry(
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": f"{HL7_CS}/condition-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": f"{HL7_CS}/condition-ver-status", "code": "confirmed"}]},
            "code": {"coding": [{"system": SNOMED, "code": "82470000", "display": "Fasciculation"}]},
            "subject": {"reference": ref},
            "onsetDateTime": _stamp(20),
            "recordedDate": _stamp(20),
        }
    )
    order = _entry(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": lithium["fullUrl"]},
            "subject": {"reference": ref},
            "authoredOn": _stamp(200),
        }
    )
    statement = _entry(
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationReference": {"reference": lithium["fullUrl"]},
            "subject": {"reference": ref},
            "effectiveDateTime": _stamp(10),
        }
    )
    labs = [_entry(_lab(ref, "19123-9", "Magnesium [Mass/volume] in Serum or Plasma", 1.1, "mg/dL", 3))]
    labs += [
        _entry(_lab(ref, "17861-6", "Calcium [Mass/volume] in Serum or Plasma", 9.4, "mg/dL", 3 + 30 * i))
        for i in range(extra_calcium_results)
    ]
    entries = [patient, lithium, condition, order, statement, *labs]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
