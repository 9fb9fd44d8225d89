"""``fasciculation-cds demo load --fhir-server URL``: upload the demo patients and print the ids to open."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
import requests

from service.cli_inputs import iso_instant, parse_now
from service.demo import DemoPatient, prepared

EXIT_UPLOAD = 3
FHIR_JSON = "application/fhir+json"
TIMEOUT_S = (5.0, 60.0)  # connect, read: a public server can take a while over a transaction


class UploadError(Exception):
    """The FHIR server did not store a bundle."""


def _failed_entries(answer: dict[str, Any]) -> list[str]:
    statuses = [str((entry.get("response") or {}).get("status", "")) for entry in answer.get("entry") or []]
    return [status for status in statuses if not status.startswith("2")]


def upload(base: str, bundle: dict[str, Any], token: str | None) -> None:
    """POST one transaction Bundle to ``base``; UploadError with the reason unless every entry was stored."""
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        answer = requests.post(base, data=orjson.dumps(bundle), headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise UploadError(f"FHIR server unreachable ({type(exc).__name__})") from exc
    try:
        document = answer.json()
    except ValueError:
        document = None
    if answer.status_code != 200 or not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise UploadError(f"the server answered {answer.status_code}, not a transaction-response Bundle")
    failed = _failed_entries(document)
    if failed:
        raise UploadError(f"{len(failed)} entries not stored ({', '.join(sorted(set(failed)))})")


def _line(patient: DemoPatient) -> str:
    return f"Patient/{patient.id}  {patient.display} ({patient.gender}, born {patient.birth_date}): {patient.scenario}"


def run_demo_load(args: argparse.Namespace) -> int:
    """Upload every demo patient (dated for ``--as-of``) and print one line per patient stored."""
    base = args.fhir_server.rstrip("/")
    for patient, bundle in prepared(parse_now(args.as_of)):
        try:
            upload(base, bundle, args.token)
        except UploadError as exc:
            sys.stderr.write(f"error: {patient.id} not loaded into {base}: {exc}\n")
            return EXIT_UPLOAD
        sys.stdout.write(_line(patient) + "\n")
    return 0


def add_demo_parser(commands: Any) -> None:
    """Register ``demo load``."""
    demo = commands.add_parser("demo", help="demo patients for FHIR sandboxes")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    load = demo_commands.add_parser("load", help="upload the demo patients to a FHIR R4 server; print their ids")
    load.add_argument("--fhir-server", required=True, help="base URL of the FHIR R4 server")
    load.add_argument("--token", help="bearer token for the FHIR server")
    load.add_argument("--as-of", type=iso_instant, help="date the scenarios as of this ISO-8601 instant (default: now)")
    load.set_defaults(func=run_demo_load)
