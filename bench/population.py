"""A synthetic clinic for the cohort screen: the repository's Synthea and scenario patients copied with new ids.

Patient ``i`` is a copy of template ``i mod T`` (the 18 trimmed Synthea bundles of ``fixtures/synthea-r4/`` and the
scenario bundles of ``fixtures/patients/``, in name order) in which every resource id becomes ``p<i>-<old id>`` and
every reference (``Type/id`` or a Bundle's ``urn:uuid:``) points at the copy, as a FHIR server would write it.
Every even-numbered patient without one gets a documented fasciculation Condition (SNOMED CT 82470000), so about
half the population runs the whole screen. Written as a Bulk Data export: NDJSON, one resource type per file,
several files per type, with a ``manifest.json`` like the one ``$export`` answers with.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA_DIR = ROOT / "fixtures" / "synthea-r4"
SCENARIO_DIR = ROOT / "fixtures" / "patients"
MARK = "{{copy}}"  # stands for the copy's id prefix in a template's text (checked absent from the fixtures)
FASCICULATION = "82470000"
DEFAULT_LINES_PER_FILE = 20_000
_REFERENCE = re.compile(r'"reference":"([^"]+)"')


@dataclass(frozen=True)
class Template:
    """One patient's resources as JSON lines with ``MARK`` before every id, and whether fasciculations are on record."""

    name: str
    lines: tuple[tuple[str, str], ...]  # (resource type, JSON text)
    patient_id: str
    has_fasciculation: bool


def _read_bundle(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    bundle: dict[str, Any] = orjson.loads(gzip.decompress(data) if path.name.endswith(".gz") else data)
    return bundle


def _template(path: Path) -> Template:
    """A bundle's entries as marked JSON lines: urn:uuid references resolved to ``Type/id``, ids prefixed."""
    entries = [e for e in _read_bundle(path).get("entry") or [] if isinstance(e.get("resource"), dict)]
    by_url = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries if "fullUrl" in e}

    def reference(match: re.Match[str]) -> str:
        target = by_url.get(match.group(1), match.group(1))
        kind, _, rid = target.partition("/")
        return f'"reference":"{kind}/{MARK}{rid}"' if rid and "/" not in rid else match.group(0)

    lines: list[tuple[str, str]] = []
    if MARK in orjson.dumps(entries).decode():
        raise ValueError(f"{path.name} holds the marker {MARK}")
    for entry in entries:
        resource = {**entry["resource"], "id": MARK + entry["resource"]["id"]}  # contained ids stay as they are
        text = _REFERENCE.sub(reference, orjson.dumps(resource).decode())
        lines.append((entry["resource"]["resourceType"], text))
    patient = next(e["resource"]["id"] for e in entries if e["resource"]["resourceType"] == "Patient")
    fasciculation = any(kind == "Condition" and f'"code":"{FASCICULATION}"' in text for kind, text in lines)
    return Template(path.name.split(".")[0], tuple(lines), patient, fasciculation)


@lru_cache(maxsize=1)
def templates() -> tuple[Template, ...]:
    """The Synthea bundles, then the scenario bundles, each in name order."""
    paths = sorted(SYNTHEA_DIR.glob("*.json.gz")) + sorted(SCENARIO_DIR.glob("*.json"))
    return tuple(_template(path) for path in paths)


def _fasciculation_line(patient_id: str) -> str:
    condition = {
        "resourceType": "Condition",
        "id": f"{patient_id}-fasciculation",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
        },
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": FASCICULATION, "display": "Muscle fasciculation"}],
            "text": "Muscle fasciculation",
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "onsetDateTime": "2026-11-01T09:00:00Z",
    }
    return orjson.dumps(condition).decode()


def patient_lines(index: int) -> Iterator[tuple[str, str]]:
    """(resource type, NDJSON line) of synthetic patient ``index``."""
    template = templates()[index % len(templates())]
    prefix = f"p{index}-"
    for kind, text in template.lines:
        yield kind, text.replace(MARK, prefix)
    if index % 2 == 0 and not template.has_fasciculation:
        yield "Condition", _fasciculation_line(prefix + template.patient_id)


def patient_id(index: int) -> str:
    """The id of synthetic patient ``index``."""
    return f"p{index}-{templates()[index % len(templates())].patient_id}"


class _RollingFiles:
    """NDJSON files per resource type, a new file every ``lines_per_file`` lines (as servers split large exports)."""

    def __init__(self, folder: Path, lines_per_file: int, compress: bool) -> None:
        self.folder, self.lines_per_file, self.compress = folder, lines_per_file, compress
        self.open: dict[str, tuple[IO[bytes], int]] = {}
        self.written: list[tuple[str, Path, int]] = []
        self.bytes = 0

    def write(self, kind: str, line: str) -> None:
        handle, count = self.open.get(kind) or self._new(kind)
        data = line.encode() + b"\n"
        handle.write(data)
        self.bytes += len(data)
        self.open[kind] = (handle, count + 1)
        if count + 1 >= self.lines_per_file:
            self._close(kind)

    def _new(self, kind: str) -> tuple[IO[bytes], int]:
        number = sum(1 for k, _, _ in self.written if k == kind)
        path = self.folder / f"{kind}.{number:03d}.ndjson{'.gz' if self.compress else ''}"
        handle: IO[bytes] = gzip.open(path, "wb", compresslevel=1) if self.compress else path.open("wb")
        self.written.append((kind, path, 0))
        return handle, 0

    def _close(self, kind: str) -> None:
        handle, count = self.open.pop(kind)
        handle.close()
        index = max(i for i, (k, _, _) in enumerate(self.written) if k == kind)
        self.written[index] = (kind, self.written[index][1], count)

    def close(self) -> None:
        for kind in list(self.open):
            self._close(kind)


def write_export(
    folder: Path, patients: int, *, lines_per_file: int = DEFAULT_LINES_PER_FILE, compress: bool = False
) -> int:
    """Write ``patients`` synthetic patients as a Bulk Data NDJSON export with a manifest; returns the bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = _RollingFiles(folder, lines_per_file, compress)
    try:
        for index in range(patients):
            for kind, line in patient_lines(index):
                files.write(kind, line)
    finally:
        files.close()
    output = [{"type": kind, "url": path.name, "count": count} for kind, path, count in files.written]
    manifest = {
        "transactionTime": "2026-11-20T12:00:00Z",
        "request": "http://fhir.bench.invalid/r4/Patient/$export",
        "requiresAccessToken": False,
        "output": output,
        "error": [],
    }
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return files.bytes
