"""Command line: ``serve``, ``evaluate`` (a Bundle file or a live FHIR server), ``feedback report``, ``workup``,
``cohort``, ``knowledge export``."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from cds_hooks import CdsHooksError, HookRequest, PrefetchResolver, ServiceRegistry, as_response, load_hook_request
from service.cli_inputs import bundle_patient, iso_instant, only_patient, parse_now, read_bundle_file
from service.cli_parser import EXIT_USAGE, CliParser, plain_text
from service.cohort.cli import add_cohort_parser
from service.config import fhir_client_settings, load_settings
from service.demo.upload import add_demo_parser
from service.facts.dates import clinical_zone
from service.hooks import SERVICE_IDS, service_definitions
from service.knowledge import load_knowledge
from service.knowledge.export.cli import add_knowledge_parser
from service.purge import add_purge_parser
from service.report import parse_since, run_report
from service.settings_types import SettingsError
from service.version import package_version
from service.workup.config import load_workup_settings
from service.workup.links import linked_definitions
from service.workup.offline import add_workup_parser

EXIT_DATA = 3


def _order_context(args: argparse.Namespace, context: dict[str, Any]) -> HookRequest:
    """An order hook request: ``--draft-orders`` (and ``--selection``) validated like an HTTP call's context."""
    context = {**context, "draftOrders": read_bundle_file(args.draft_orders)}
    if args.hook == "order-select":
        context["selections"] = args.selection or []
    body = {"hook": args.hook, "hookInstance": args.hook_instance, "context": context}
    return load_hook_request(body, frozenset({args.hook}))


def evaluate(args: argparse.Namespace) -> int:
    """Print the CDS Hooks response for one patient, from a Bundle file or a FHIR server."""
    now = parse_now(args.now, clinical_zone(load_settings().timezone))
    knowledge = load_knowledge()
    definitions = service_definitions(knowledge, lambda: now)
    registry = ServiceRegistry(linked_definitions(definitions, load_settings(), load_workup_settings()))
    definition = registry.find(SERVICE_IDS[args.hook], args.hook)
    if args.bundle:
        bundle = read_bundle_file(args.bundle)
        patient_id = bundle_patient(bundle, args.patient, args.bundle)
        bundle = only_patient(bundle, args.patient) if args.patient else bundle
        context = {"userId": "Practitioner/cli", "patientId": patient_id or "unknown"}
        request = HookRequest(args.hook, args.hook_instance, context)
        request = _order_context(args, context) if args.draft_orders else request
        # A whole-record bundle answers every prefetch query, the exam findings included (no key is left out).
        prefetched: dict[str, Any] = {**dict.fromkeys(definition.prefetch), "bundle": bundle}
    else:
        context = {"userId": "Practitioner/cli", "patientId": args.patient}
        request = HookRequest(args.hook, args.hook_instance, context, fhir_server=args.fhir_server.rstrip("/"))
        resolver = PrefetchResolver.for_service(definition, _cli_client_factory(args.token))
        prefetched = dict(resolver.resolve(request))
    document = as_response(definition.handler(request, prefetched)).to_json()
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _cli_client_factory(token: str | None) -> Callable[[str, str | None], Any]:
    from cds_hooks import FhirClient

    client_settings = fhir_client_settings(load_settings())
    # The operator named this server on the command line, so the service's allow-list does not apply here.
    return lambda base, _: FhirClient(base, token, settings=client_settings)


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (bound the way gunicorn binds, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def serve(args: argparse.Namespace) -> int:
    """Run the app under gunicorn (a production WSGI server)."""
    from service.server import run_gunicorn

    load_settings(), load_workup_settings()  # a bad setting stops here, as one line, before any worker starts
    if port_in_use(args.host, args.port):
        sys.stderr.write(f"error: port {args.port} on {args.host} is already in use; choose another with --port\n")
        return EXIT_USAGE
    return run_gunicorn(
        host=args.host, port=args.port, workers=args.workers, allow_unauthenticated=args.allow_unauthenticated
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = CliParser(prog="fasciculation-cds", description=plain_text(__doc__))
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="serve the CDS Hooks API with gunicorn")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (non-loopback needs authentication)")
    run.add_argument("--port", type=int, default=8080, help="TCP port to listen on")
    run.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
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
    ev.add_argument(
        "--patient", help="Patient id on the FHIR server (needed with --fhir-server), or of a Bundle with several"
    )
    ev.add_argument("--token", help="bearer token for the FHIR server")
    hooks = ["patient-view", "order-select", "order-sign"]
    ev.add_argument("--hook", default="patient-view", choices=hooks, help="the hook to call")
    ev.add_argument("--draft-orders", help="Bundle of draft orders (order-select / order-sign, with --bundle)")
    ev.add_argument("--selection", action="append", help="Type/id of a selected draft order (order-select; repeat)")
    ev.add_argument("--now", type=iso_instant, help="evaluate as of this ISO-8601 instant (default: now)")
    ev.add_argument(
        "--hook-instance",
        default=str(uuid.uuid4()),
        help="hookInstance to use (card uuids derive from it; default: a random UUID)",
    )
    ev.set_defaults(func=evaluate)

    fb = commands.add_parser("feedback", help="what clinicians did with the cards")
    fb_commands = fb.add_subparsers(dest="feedback_command", required=True)
    report = fb_commands.add_parser("report", help="per rule: shown, accepted, overridden, why (CDS_DATABASE_URL)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.add_argument("--since", type=parse_since, help="only cards issued from this ISO date or datetime on")
    report.set_defaults(func=run_report)
    add_workup_parser(commands)
    add_demo_parser(commands)
    add_cohort_parser(commands)
    add_knowledge_parser(commands)
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
    root, level = logging.getLogger(), logging.getLogger().level
    if args.command == "evaluate":
        root.setLevel(logging.ERROR)  # the one error line below says what the prefetch warnings would
    try:
        result: int = args.func(args)
    except CdsHooksError as exc:
        sys.stderr.write(error_line(exc) + "\n")
        return EXIT_DATA
    except SettingsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    finally:
        root.setLevel(level)
    return result


def error_line(exc: CdsHooksError) -> str:
    """One line for a failed ``evaluate``: the error code, the message, and what it concerns (e.g. prefetch keys)."""
    detail = exc.detail()
    if isinstance(detail, dict):
        about = "; ".join(f"{key}: {', '.join(map(str, value))}" for key, value in detail.items())
    else:
        about = ", ".join(map(str, detail)) if isinstance(detail, list | tuple) else ""
    concerns = f" [{exc.detail_key}: {about}]" if detail and exc.detail_key else ""
    return f"error ({exc.error}): {exc.message}{concerns}"


if __name__ == "__main__":
    raise SystemExit(main())
