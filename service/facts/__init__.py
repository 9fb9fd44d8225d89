"""The FHIR -> facts edge, the tolerant reader: what the rules know about one patient, and nothing else.

``build_record`` groups what clients send (shapes repaired by ``conform``); ``build_facts`` reads the few resources a
rule needs through one gate (``gate.read_model``: only validation errors skip a resource, tallied into one log line
per request by ``skip_log``); units go through UCUM (``units``); how a fact was recognised is one ``Confidence``.
"""

from service.facts.code_index import Confidence
from service.facts.conditions import ConditionFact
from service.facts.labs import LabResult
from service.facts.medications import MedicationUse, UseStatus
from service.facts.patient import PatientFacts, build_facts
from service.facts.records import PatientRecord, Resource, build_record
from service.facts.skip_log import skip_log

__all__ = [
    "ConditionFact",
    "Confidence",
    "LabResult",
    "MedicationUse",
    "PatientFacts",
    "PatientRecord",
    "Resource",
    "UseStatus",
    "build_facts",
    "build_record",
    "skip_log",
]
