"""Deterministic patient-view request bodies built from the Synthea bundles (nothing large is stored in the repo).

A "realistic" body is one Synthea patient with documented fasciculation and recent magnesium, calcium + albumin,
TSH and potassium results added (about 60 resources, about 68 KB); a "sized" body holds exactly N resources drawn
from all bundles in file order (cycled with new ids when N exceeds the data), shuffled with a fixed seed.
"""

from __future__ import annotations

import gc
import gzip
import os
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

Resource = dict[str, Any]

# The trimmed Synthea bundles of the repository (*.json.gz); BENCH_SYNTHEA_DIR may name a folder of *.json[.gz].
SYNTHEA_DIR = Path(os.environ.get("BENCH_SYNTHEA_DIR") or Path(__file__).resolve().parents[1] / "fixtures/synthea-r4")
FHIR_BASE = "http://fhir.bench.invalid/r4"
SEED = 20240917
REALISTIC_RESOURCES = 60
# Prefetch keys of service/hooks.py and the resource type each one holds (checked against discovery at run time).
PREFETCH_TYPES: Mapping[str, str] = {
    "patient": "Patient",
    "labs": "Observation",
    "conditions": "Condition",
    "medicationRequests": "MedicationRequest",
    "medicationStatements": "MedicationStatement",
}
POOL_TYPES = ("Observation", "Condition", "MedicationRequest")
READ_KEYS = frozenset({"patient"})  # keys whose template reads one resource (no "?"), not a search
# Used when the app's labs template cannot be read: the labs the brief names plus Synthea's chemistry panel.
FALLBACK_LAB_CODES = frozenset({"19123-9", "17861-6", "1751-7", "3016-3", "2823-3", "6298-4", "49765-1", "2947-0"})
# (LOINC, display, value, UCUM unit, days before now): low Mg, low K, suppressed TSH, calcium with low albumin.
ADDED_LABS = (
    ("19123-9", "Magnesium [Mass/volume] in Serum or Plasma", 1.4, "mg/dL", 3),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", 8.1, "mg/dL", 3),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", 3.2, "g/dL", 3),
    ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", 0.08, "m[IU]/L", 10),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", 3.1, "mmol/L", 3),
)


@dataclass(frozen=True)
class Layout:
    """Where resources go: resource type per prefetch key, keys that read one resource, and the labs' LOINC codes."""

    types: Mapping[str, str] = field(default_factory=lambda: dict(PREFETCH_TYPES))
    reads: frozenset[str] = READ_KEYS
    lab_codes: frozenset[str] = FALLBACK_LAB_CODES


def layout_from_templates(templates: Mapping[str, str]) -> Layout:
    """The layout a service's prefetch templates imply (``Observation?...&code=http://loinc.org|x,...``)."""
    types = {key: template.split("?")[0].split("/")[0] for key, template in templates.items()}
    reads = frozenset(key for key, template in templates.items() if "?" not in template)
    query = parse_qs(urlsplit(templates["labs"]).query) if "labs" in templates else {}
    codes = frozenset(c.rpartition("|")[2] for value in query.get("code", []) for c in value.split(","))
    return Layout(types, reads, codes or FALLBACK_LAB_CODES)


@dataclass(frozen=True)
class SyntheaPatient:
    """One Synthea patient: the Patient and every other resource, references rewritten to ``Type/id``."""

    patient: Resource
    resources: tuple[Resource, ...]


def _rewrite_references(value: Any, targets: Mapping[str, str]) -> Any:
    """Copy of ``value`` with ``urn:uuid:`` references replaced by relative ``Type/id`` references."""
    if isinstance(value, dict):
        out = {k: _rewrite_references(v, targets) for k, v in value.items()}
        reference = out.get("reference")
        if isinstance(reference, str) and reference in targets:
            out["reference"] = targets[reference]
        return out
    if isinstance(value, list):
        return [_rewrite_references(v, targets) for v in value]
    return value


@lru_cache(maxsize=32)
def load_patient(path: Path) -> SyntheaPatient:
    """Read one Synthea transaction bundle (cached)."""
    data = path.read_bytes()
    bundle = orjson.loads(gzip.decompress(data) if path.suffix == ".gz" else data)
    entries = [e for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    targets = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries if "fullUrl" in e
    }
    resources = [_rewrite_references(e["resource"], targets) for e in entries]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    return SyntheaPatient(patient, tuple(r for r in resources if r is not patient))


def synthea_files(directory: Path = SYNTHEA_DIR) -> list[Path]:
    """The Synthea bundles in a fixed (sorted) order."""
    files = sorted(path for path in directory.glob("*.json*") if path.name.endswith((".json", ".json.gz")))
    if not files:
        raise FileNotFoundError(f"no Synthea bundles in {directory} (set BENCH_SYNTHEA_DIR)")
    return files


def _resource_stream(directory: Path) -> Iterator[Resource]:
    """Observations, Conditions and MedicationRequests of every bundle in order, then again with new ids."""
    for round_no in range(1_000_000):
        for path in synthea_files(directory):
            for resource in load_patient(path).resources:
                if resource["resourceType"] in POOL_TYPES:
                    yield resource if round_no == 0 else {**resource, "id": f"{resource['id']}-r{round_no}"}


def _with_subject(resource: Resource, patient_id: str) -> Resource:
    """The resource pointed at the bench patient."""
    field = "patient" if resource["resourceType"] == "Patient" else "subject"
    return {**resource, field: {"reference": f"Patient/{patient_id}"}}


def fasciculation_condition(patient_id: str, now: datetime) -> Resource:
    """Active, confirmed fasciculation (SNOMED CT 82470000, ICD-10-CM R25.3) noted a month ago."""
    onset = (now - timedelta(days=30)).isoformat(timespec="seconds")
    return {
        "resourceType": "Condition",
        "id": f"bench-fasciculation-{patient_id}"[:64],
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "82470000", "display": "Fasciculation (finding)"},
                {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R25.3", "display": "Fasciculation"},
            ],
            "text": "Fasciculation",
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "onsetDateTime": onset,
        "recordedDate": onset,
    }


def added_labs(patient_id: str, now: datetime) -> list[Resource]:
    """Recent final lab Observations (magnesium, calcium, albumin, TSH, potassium)."""
    labs = []
    for index, (code, display, value, unit, days) in enumerate(ADDED_LABS):
        when = (now - timedelta(days=days)).isoformat(timespec="seconds")
        labs.append(
            {
                "resourceType": "Observation",
                "id": f"bench-lab-{index}-{patient_id}"[:64],
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "laboratory",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
                "subject": {"reference": f"Patient/{patient_id}"},
                "effectiveDateTime": when,
                "issued": when,
                "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            }
        )
    return labs


def _searchset(resources: list[Resource]) -> Resource:
    """A searchset Bundle as a FHIR server would return it."""
    bundle: Resource = {"resourceType": "Bundle", "type": "searchset", "total": len(resources)}
    if resources:
        bundle["entry"] = [
            {"fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ]
    return bundle


def hook_request(patient: Resource, resources: list[Resource], seed: int, layout: Layout) -> dict[str, Any]:
    """A patient-view request with ``resources`` filed under the prefetch key for their type."""
    by_type: dict[str, list[Resource]] = {t: [] for t in layout.types.values()}
    for resource in resources:
        by_type[resource["resourceType"]].append(resource)
    # Each resource is filed once, under the first key of its type (labs before examObservations): a second search
    # of the same type answers empty, as it would for a patient without exam findings.
    prefetch: dict[str, Any] = {}
    for key, resource_type in layout.types.items():
        first = resource_type not in {layout.types[k] for k in prefetch if k not in layout.reads}
        prefetch[key] = patient if key in layout.reads else _searchset(by_type[resource_type] if first else [])
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.UUID(int=random.Random(seed).getrandbits(128), version=4)),
        "context": {"userId": "Practitioner/bench", "patientId": patient["id"]},
        "prefetch": prefetch,
    }


def realistic_body(now: datetime, layout: Layout = Layout(), seed: int = SEED) -> bytes:
    """One Synthea patient with fasciculation and recent labs, trimmed to about 60 resources."""
    source = load_patient(synthea_files()[0])
    patient_id = source.patient["id"]
    kept = [r for r in source.resources if r["resourceType"] in ("Condition", "MedicationRequest")]
    kept.append(fasciculation_condition(patient_id, now))
    fresh = added_labs(patient_id, now)
    old_labs = [
        r
        for r in source.resources
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] in layout.lab_codes
    ]
    old_labs.sort(key=lambda r: str(r.get("effectiveDateTime", "")), reverse=True)
    room = max(0, REALISTIC_RESOURCES - 1 - len(kept) - len(fresh))
    resources = fresh + old_labs[:room] + kept
    return orjson.dumps(hook_request(source.patient, resources, seed, layout))


def sized_body(count: int, now: datetime, layout: Layout = Layout(), seed: int = SEED) -> bytes:
    """A patient-view request holding exactly ``count`` resources (at least 7) in its prefetch."""
    patient = load_patient(synthea_files()[0]).patient
    patient_id = patient["id"]
    fixed = [fasciculation_condition(patient_id, now), *added_labs(patient_id, now)]
    stream = _resource_stream(SYNTHEA_DIR)
    drawn = [_with_subject(next(stream), patient_id) for _ in range(max(0, count - 1 - len(fixed)))]
    resources = fixed + drawn
    random.Random(seed).shuffle(resources)
    return orjson.dumps(hook_request(patient, resources, seed, layout))


def release_sources() -> None:
    """Drop the parsed Synthea bundles: millions of objects that would slow every garbage collection we time."""
    load_patient.cache_clear()
    gc.collect()


def resource_count(body: bytes) -> int:
    """How many resources the prefetch of a request body holds (Bundle entries plus bare resources)."""
    prefetch = orjson.loads(body)["prefetch"]
    return sum(len(v.get("entry", [])) if v.get("resourceType") == "Bundle" else 1 for v in prefetch.values() if v)


class FreshInstances:
    """The same request body with a new ``hookInstance`` per call, so every call issues new cards to store."""

    MARKER = b'"hookInstance":"'

    def __init__(self, body: bytes) -> None:
        start = body.index(self.MARKER) + len(self.MARKER)
        end = body.index(b'"', start)
        self.prefix, self.suffix = body[:start], body[end:]
        self.base = uuid.uuid4().hex[:8]
        self.count = 0

    def next(self) -> bytes:
        """The body with the next hookInstance (UUID-shaped: ``<random>-0000-4000-8000-<counter>``)."""
        self.count += 1
        return b"%b%s-0000-4000-8000-%012x%b" % (self.prefix, self.base.encode(), self.count, self.suffix)
