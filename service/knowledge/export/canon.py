"""Names of the exported artifacts: the canonical base, resource ids and file names, code systems, the FHIR version."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from service.facts.code_index import ATC_SYSTEM, ICD10CM_SYSTEM, RXNORM_SYSTEM, SNOMED_SYSTEM
from service.facts.labs import LOINC_SYSTEM
from service.knowledge.base import Knowledge

__all__ = [
    "ATC_SYSTEM",
    "CPT_SYSTEM",
    "FHIR_VERSION",
    "ICD10CM_SYSTEM",
    "LOINC_SYSTEM",
    "RXNORM_SYSTEM",
    "SNOMED_SYSTEM",
    "V3_INTERPRETATION_SYSTEM",
    "canonical_base",
    "computable_name",
    "file_name",
    "resource_id",
]

FHIR_VERSION = "4.0.1"  # the artifacts are FHIR R4 (the version the engine's Medplum definitions describe)
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
V3_INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_NOT_ID = re.compile(r"[^A-Za-z0-9.\-]+")


def canonical_base(knowledge: Knowledge) -> str:
    """The base of every canonical URL: the host of the override-reason system cards.yaml already publishes."""
    parts = urlsplit(knowledge.cards.override_reason_system)
    return f"{parts.scheme}://{parts.netloc}"


def resource_id(*parts: str) -> str:
    """A FHIR id (letters, digits, '-' and '.', at most 64) made of ``parts``; refuses one that does not fit."""
    text = "-".join(_NOT_ID.sub("-", part).strip("-") for part in parts)
    if not 1 <= len(text) <= 64:
        raise ValueError(f"{text!r} does not fit in a FHIR id")
    return text


def computable_name(text: str) -> str:
    """A computable name (FHIR inv-0: a capital, then letters, digits or '_'): "lab.calcium.low" -> LabCalciumLow."""
    words = re.split(r"[^A-Za-z0-9]+", text)
    name = "".join(word[:1].upper() + word[1:] for word in words if word)
    return name if name[:1].isalpha() else f"X{name}"


def file_name(resource_type: str, identifier: str) -> str:
    """The package file of one resource, as FHIR packages name them: ``{type}-{id}.json``."""
    return f"{resource_type}-{identifier}.json"
