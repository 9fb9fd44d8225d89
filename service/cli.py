"""Command line: ``serve``, ``evaluate`` (a Bundle file or a live FHIR server), ``feedback report``, ``workup``."""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from cds_hooks import CdsHooksError, HookRequest, PrefetchResolver, ServiceRegistry, as_response, load_hook_request
from service.cli_inputs import parse_now, read_bundle_file
from service.cohort.cli import add_cohort_parser
from service.config import fhir_client_settings, load_settings
from service.hooks import SERVICE_IDS, service_definitions
from service.knowledge import load_knowledge
from service.purge import add_purge_parser
from service.report import parse_since, run_report
from service.workup.app import linked_definitions, load_workup_settings
from service.workup.offline import add_workup_parser

EXIT_DATA = 3


def _patient_id(bundle: dict[str, Any]) -> str:
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient" and resource.get("id"):
            return str(resource["id"])
    return "unknown"


def _order_context(args: argparse.Namespace, context: dict[str, Any]) -> HookRequest:
    """An order hook request: ``--draft-orders`` (and ``--selection``) validated like an HTTP call's context."""
    context = {**context, "draftOrders": read_bundle_file(args.draft_orders)}
    if args.hook == "order-select":
        context["selections"] = args.selection or []
    body = {"hook": args.hook, "hookInstance": args.hook_instance, "context": context}
    return load_hook_request(body, frozenset({args.hook}))


def evaluate(args: argparse.Namespace) -> int:
    """Print the CDS Hooks response for one patient, from a Bundle file or a FHIR server."""
    now = parse_now(args.now)
    knowledge = load_knowledge()
    definitions = service_definitions(knowledge, lambda: now)
    registry = ServiceRegistry(linked_definitions(definitions, load_settings(), load_workup_settings()))
    definition = registry.find(SERVICE_IDS[args.hook], args.hook)
    if args.bundle:
        bundle = read_bundle_file(args.bundle)
        context = {"userId": "Practitioner/cli", "patientId": _patient_id(bundle)}
        request = HookRequest(args.hook, args.hook_instance, context)
        request = _order_context(args, context) if args.draft_orders else request
        # A whole-record bundle answers every prefetch query, the exam findings included (no key is left out).
        prefetched: dict[str, Any] = {**dict.fromkeys(definition.prefetch), "bundle": bundle}
    else:
        context = {"userId": "Practitioner/cli", "patientId": args.patient}
        request = HookRequest(args.hook, args.hook_instance, context, fhir_server=args.fhir_server.rstrip("/"))
        resolver = PrefetchResolver(definition.prefetch, _cli_client_factory(args.token))
        prefetched = dict(resolver.resolve(request))
    document = as_response(definition.handler(request, prefetched)).to_json()
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _cli_client_factory(token: str | None) -> Callable[[str, str | None], Any]:
    from cds_hooks import FhirClient

    client_settings = fhir_client_settings(load_settings())
    # The operator named this server on the command line, so the service's allow-list does not apply here.
    return lambda base, _: FhirClient(base, token, settings=client_settings)


def serve(args: argparse.Namespace) -> int:
    """Run the app under gunicorn (a production WSGI server)."""
    from service.server import run_gunicorn

    return run_gunicorn(
        host=args.host, port=args.port, workers=args.workers, allow_unauthenticated=args.allow_unauthenticated
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="fasciculation-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="serve the CDS Hooks API with gunicorn")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--workers", type=int, default=2)
    run.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="serve a non-loopback address without CDS_TRUSTED_CLIENTS (only behind something that authenticates)",
    )
    run.set_defaults(func=serve)

    ev = commands.add_parser("evaluate", help="print the cards for one patient")
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--bundle", help="FHIR R4 Bundle file holding one patient and their resources")
    source.add_argument("--fhir-server", help="base URL of a FHIR R4 server")
    ev.add_argument("--patient", help="Patient id on the FHIR server (with --fhir-server)")
    ev.add_argument("--token", help="bearer token for the FHIR server")
    ev.add_argument("--hook", default="patient-view", choices=["patient-view", "order-select", "order-sign"])
    ev.add_argument("--draft-orders", help="Bundle of draft orders (order-select / order-sign, with --bundle)")
    ev.add_argument("--selection", action="append", help="Type/id of a selected draft order (order-select; repeat)")
    ev.add_argument("--now", help="evaluate as of this ISO-8601 instant (default: now)")
    ev.add_argument(
        "--hook-instance", default=str(uuid.uuid4()), help="hookInstance to use (card uuids derive from it)"
    )
    ev.set_defaults(func=evaluate)

    fb = commands.add_parser("feedback", help="what clinicians did with the cards")
    fb_commands = fb.add_subparsers(dest="feedback_command", required=True)
    report = fb_commands.add_parser("report", help="per rule: shown, accepted, overridden, why (CDS_DATABASE_URL)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.add_argument("--since", type=parse_since, help="only cards issued from this ISO date or datetime on")
    report.set_defaults(func=run_report)
    add_workup_parser(commands)
    add_cohort_parser(commands)
    add_purge_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fasciculation-cds`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "evaluate" and args.fhir_server and not args.patient:
        parser.error("--fhir-server needs --patient")
    if args.command == "evaluate" and (args.hook != "patient-view") != bool(args.draft_orders and args.bundle):
        parser.error("order-select/order-sign need --bundle and --draft-orders; only those hooks take them")
    try:
        result: int = args.func(args)
    except CdsHooksError as exc:
        sys.stderr.write(f"error: {exc.message} ({exc.to_body()})\n")
        return EXIT_DATA
    return result


if __name__ == "__main__":
    raise SystemExit(main())
