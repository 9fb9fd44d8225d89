"""``cohort --input https://…``: the live $export's command-line arguments and the export into ``OUT/export``."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from cds_hooks import ServerAllowList
from service.cohort.errors import CohortError
from service.cohort.progress import Progress
from service.cohort.sources import MANIFEST_NAME, observation_filter
from service.config import load_settings
from service.knowledge import load_knowledge

DEFAULT_MAX_FILE_BYTES = 16 << 30
DEFAULT_MAX_WAIT_S = 24 * 3600.0


def add_export_arguments(parser: Any) -> None:
    """Arguments of a live export (``--input`` is a FHIR base URL)."""
    group = parser.add_argument_group("live $export (--input is a FHIR base URL on CDS_FHIR_SERVER_ALLOWLIST)")
    group.add_argument("--export-level", default="patient", help="system, patient (Patient/$export) or group/<id>")
    group.add_argument("--token", help="bearer token for the FHIR server")
    group.add_argument("--client-id", help="SMART Backend Services client id (with --private-key)")
    group.add_argument("--private-key", help="PEM private key (RSA or EC P-384) registered for --client-id")
    group.add_argument("--key-id", help="kid of that key in the client's JWKS")
    group.add_argument("--scope", default="system/*.rs", help="scopes asked for with client_credentials")


def _token_source(args: argparse.Namespace, allow_list: ServerAllowList) -> Any:
    if args.client_id or args.private_key:
        if not (args.client_id and args.private_key and args.key_id):
            raise CohortError("SMART Backend Services needs --client-id, --private-key and --key-id")
        from service.cohort.backend_auth import BackendServicesToken

        return BackendServicesToken(
            args.input, args.client_id, Path(args.private_key), args.key_id, args.scope, allow_list
        )
    return lambda: args.token


def export_to_folder(args: argparse.Namespace, out: Path) -> Path:
    """Run the export into ``OUT/export`` (kept when complete: ``--resume`` does not export again)."""
    from service.cohort.bulk_export import BulkExporter, ExportLimits, screen_export

    folder = out / "export"
    if args.resume and (folder / MANIFEST_NAME).is_file():
        return folder
    if not args.resume:
        shutil.rmtree(folder, ignore_errors=True)  # a new run exports afresh (--resume keeps finished downloads)
    settings = load_settings()
    allow_list = ServerAllowList.parse(settings.effective_fhir_allowlist)
    limits = ExportLimits(
        settings.fhir_connect_timeout_s,
        settings.fhir_read_timeout_s,
        32 << 20,
        DEFAULT_MAX_FILE_BYTES,
        DEFAULT_MAX_WAIT_S,
    )
    request = screen_export(args.input, args.export_level, observation_filter(load_knowledge()))
    exporter = BulkExporter(request, _token_source(args, allow_list), limits, allow_list, Progress(0).note)
    exporter.run(folder)
    return folder
