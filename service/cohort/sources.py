"""What a cohort reads: the files of a Bulk Data export (NDJSON, plain or gzip) or a folder of FHIR Bundles.

Which resources the screen reads, and the rule that ties a resource to its patient, are declared here once; both
engines build their queries from these declarations, so they keep and group exactly the same resources.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import orjson

from service.hooks import patient_prefetch
from service.knowledge import Knowledge
from service.prefetch_keys import EXAM_KEY

LOINC_SYSTEM = "http://loinc.org"
EXAM_CATEGORY = "exam"
# The resource types the screen reads (service/facts/records.py), by how they name their patient.
PATIENT_TYPE = "Patient"
SUBJECT_TYPES = ("Observation", "Condition", "MedicationRequest", "MedicationStatement", "MedicationAdministration")
SHARED_TYPES = ("Medication",)  # no patient of their own: joined to the patients whose drugs reference them
SCREEN_TYPES = (PATIENT_TYPE, *SUBJECT_TYPES, *SHARED_TYPES)
NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
BUNDLE_SUFFIXES = (".json", ".json.gz")
MANIFEST_NAME = "manifest.json"
FHIR_ID = r"[A-Za-z0-9\-\.]{1,64}"
UNREADABLE_FILE = "file not readable"
NOT_A_BUNDLE = f"{UNREADABLE_FILE}: not a FHIR Bundle"


class FileKind(StrEnum):
    """How a file holds its resources."""

    NDJSON = "ndjson"
    BUNDLE = "bundle"


@dataclass(frozen=True)
class InputFile:
    """One file of the input, numbered in path order (the number orders each patient's resources)."""

    file_id: int
    path: Path
    kind: FileKind

    @property
    def gzip(self) -> bool:
        """Whether the file is gzip-compressed."""
        return self.path.name.endswith(".gz")


@dataclass(frozen=True)
class Inputs:
    """The files to read and the FHIR bases their absolute references may point at."""

    folder: Path
    files: tuple[InputFile, ...]
    bases: tuple[str, ...]

    def relative(self, file_id: int) -> str:
        """A file's path relative to the input folder (as the errors file names it)."""
        return str(self.files[file_id].path.relative_to(self.folder))


def _kind(path: Path) -> FileKind | None:
    name = path.name.lower()
    if name.endswith(NDJSON_SUFFIXES):
        return FileKind.NDJSON
    if name.endswith(BUNDLE_SUFFIXES) and name != MANIFEST_NAME:
        return FileKind.BUNDLE
    return None


def unreadable(item: InputFile) -> str | None:
    """Why a file cannot be read at all (it cannot be opened, or its gzip stream is broken), else None.

    Engines that read lazily (Spark) check every file with this first, so one broken file is counted, not fatal.
    """
    try:
        with item.path.open("rb") as handle:
            if not item.gzip:
                handle.read(1)
                return None
            inflater = zlib.decompressobj(wbits=47)  # gzip header, any window size
            while chunk := handle.read(1 << 20):
                inflater.decompress(chunk, 0)
                while inflater.unused_data and inflater.eof:  # a concatenated gzip member follows
                    rest, inflater = inflater.unused_data, zlib.decompressobj(wbits=47)
                    inflater.decompress(rest, 0)
            if not inflater.eof:
                return f"{UNREADABLE_FILE}: the gzip stream is truncated"
    except OSError as exc:
        return f"{UNREADABLE_FILE}: {exc.strerror or type(exc).__name__}"
    except zlib.error:
        return f"{UNREADABLE_FILE}: not a valid gzip stream"
    return None


def export_base(request_url: str) -> str | None:
    """The FHIR base of a kick-off URL (``…/$export``, ``…/Patient/$export``, ``…/Group/x/$export``)."""
    match = re.match(rf"^(https?://[^?#]+?)(?:/Patient|/Group/{FHIR_ID})?/\$export(?:[?#].*)?$", request_url)
    return match.group(1) if match else None


def _manifest_bases(folder: Path) -> tuple[str, ...]:
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return ()
    try:
        request = orjson.loads(manifest.read_bytes()).get("request")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return ()
    base = export_base(request) if isinstance(request, str) else None
    return (base,) if base else ()


def discover(folder: Path) -> Inputs:
    """Every NDJSON and Bundle file under ``folder`` (recursively, sorted); the export's base from its manifest."""
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and _kind(p) is not None
        and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    )
    files = tuple(InputFile(i, path, kind) for i, path in enumerate(paths) if (kind := _kind(path)) is not None)
    return Inputs(folder, files, _manifest_bases(folder))


def server_errors(folder: Path) -> list[tuple[str, int, str]]:
    """The issues of the server's OperationOutcome error files (``_errors/*.ndjson``): (file, line, text)."""
    found = []
    for path in sorted((folder / "_errors").glob("*.ndjson")):
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            try:
                issues = orjson.loads(line).get("issue") or []
            except (orjson.JSONDecodeError, AttributeError):
                issues = [{"details": {"text": "unreadable error line"}}]
            for issue in issues:
                text = (issue.get("details") or {}).get("text") or issue.get("diagnostics") or issue.get("code")
                found.append((str(path.relative_to(folder)), number, f"server reported: {text}"[:300]))
    return found


def patient_reference_pattern(target: str, bases: tuple[str, ...]) -> str:
    """A regular expression whose group 1 is the id in a reference to ``target`` (relative, or under a known base)."""
    prefixes = "|".join(re.escape(base.rstrip("/") + "/") for base in bases)
    prefix = f"(?:{prefixes})?" if prefixes else ""
    return rf"^{prefix}{target}/({FHIR_ID})(?:/_history/[^/]+)?$"


@dataclass(frozen=True)
class ObservationFilter:
    """The Observations the screen reads: the labs prefetch's LOINC codes and the exam-finding category."""

    loinc_codes: tuple[str, ...]
    category: str = EXAM_CATEGORY


def observation_filter(knowledge: Knowledge) -> ObservationFilter:
    """The LOINC codes of the hooks' ``labs`` prefetch template (read from it, so the two cannot drift)."""
    templates = patient_prefetch(knowledge)
    codes = re.findall(rf"{re.escape(LOINC_SYSTEM)}\|([0-9A-Za-z\-]+)", templates["labs"])
    category = re.search(r"[?&]category=([^&]+)", templates[EXAM_KEY])
    return ObservationFilter(tuple(codes), category.group(1) if category else EXAM_CATEGORY)
