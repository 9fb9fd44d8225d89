"""What the command line reads: a FHIR Bundle file (plain or gzip-compressed JSON) and an optional ``--now``."""

from __future__ import annotations

import argparse
import gzip
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson

from service.facts.records import iter_entries


def parse_now(text: str | None, zone: tzinfo | None = None) -> datetime:
    """``--now`` as an aware datetime (UTC when no offset is given), the real clock when absent; read in ``zone``."""
    if text is None:
        moment = datetime.now(UTC)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(zone) if zone else moment


def iso_instant(text: str) -> str:
    """``--now`` checked as argparse reads it, so a bad value is a one-line usage error (exit 2), not a traceback."""
    try:
        parse_now(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 date or datetime: {text!r} (e.g. 2026-11-20T12:00Z)"
        ) from exc
    return text


def read_bundle_file(path: str) -> dict[str, Any]:
    """The Bundle in ``path`` (``*.gz`` is decompressed); SystemExit with the reason when it cannot be read."""
    try:
        raw = Path(path).read_bytes()
        document = orjson.loads(gzip.decompress(raw) if path.endswith(".gz") else raw)
    except (OSError, EOFError, gzip.BadGzipFile, orjson.JSONDecodeError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise SystemExit(f"error: {path} is not a FHIR Bundle")
    return document


def bundle_patient_ids(bundle: dict[str, Any]) -> list[str]:
    """The ids of the Patient entries of a Bundle (nested Bundles included), in order, each once."""
    ids = (resource.get("id") for _, resource in iter_entries(bundle) if resource.get("resourceType") == "Patient")
    return list(dict.fromkeys(str(item) for item in ids if item))


def bundle_patient(bundle: dict[str, Any], requested: str | None, path: str) -> str | None:
    """The one patient a Bundle file is evaluated for; SystemExit when it holds several and none is named.

    ``requested`` (``--patient``) must be a Patient of the Bundle when it holds any. Other patients' resources are
    then left out by the facts edge (service.facts.ownership), never screened as this patient's.
    """
    ids = bundle_patient_ids(bundle)
    if requested is not None:
        if ids and requested not in ids:
            raise SystemExit(f"error: {path} holds no Patient with id {requested!r} (it holds {len(ids)} patients)")
        return requested
    if len(ids) > 1:
        raise SystemExit(
            f"error: {path} holds {len(ids)} patients; name the one to evaluate with --patient "
            "(one patient per call: their records are never mixed)"
        )
    return ids[0] if ids else None


def only_patient(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """The Bundle without the Patient entries of other patients (their other resources the edge leaves out)."""
    entries = [
        {"fullUrl": full_url, "resource": resource} if full_url else {"resource": resource}
        for full_url, resource in iter_entries(bundle)
        if resource.get("resourceType") != "Patient" or resource.get("id") == patient_id
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
