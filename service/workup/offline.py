"""``fasciculation-cds workup --bundle FILE --out page.html``: the work-up page from a Bundle, without a server."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from service.cli_inputs import bundle_patient, iso_instant, parse_now, read_bundle_file
from service.config import load_settings
from service.facts.dates import clinical_zone
from service.facts.ownership import PatientInContext
from service.facts.records import build_record
from service.knowledge import load_knowledge
from service.workup.config import DEFAULT_WINDOW_DAYS


def bundle_page(
    path: str, *, now: datetime, window_days: int = DEFAULT_WINDOW_DAYS, highlight: str | None = None
) -> str:
    """The work-up page of the patient in a Bundle file, as HTML."""
    bundle = read_bundle_file(path)
    patient_id = bundle_patient(bundle, None, path)  # a Bundle of several patients is refused, never mixed
    record = build_record([bundle], patient=PatientInContext(patient_id) if patient_id else None)
    from service.workup.page import build_page, render_page  # Jinja and pygal: only when a page is drawn

    page = build_page(record, now=now, knowledge=load_knowledge(), window_days=window_days, highlight=highlight)
    return render_page(page)


def run_workup(args: argparse.Namespace) -> int:
    """Write the page to ``--out`` (or stdout with ``-``)."""
    now = parse_now(args.now, clinical_zone(load_settings().timezone))
    html = bundle_page(args.bundle, now=now, window_days=args.window_days, highlight=args.highlight)
    if args.out == "-":
        sys.stdout.write(html)
    else:
        Path(args.out).write_text(html, encoding="utf-8")
    return 0


def add_workup_parser(commands: Any) -> None:
    """The ``workup`` subcommand."""
    parser = commands.add_parser("workup", help="render the work-up page (charts, timeline, checklist) from a Bundle")
    parser.add_argument("--bundle", required=True, help="FHIR R4 Bundle file holding one patient and their resources")
    parser.add_argument("--now", type=iso_instant, help="render as of this ISO-8601 instant (default: now)")
    parser.add_argument("--out", required=True, help="HTML file to write ('-' for standard output)")
    parser.add_argument("--window-days", type=int, default=DEFAULT_WINDOW_DAYS, help="chart window in days")
    parser.add_argument("--highlight", help="rule id of the finding to highlight (as a card's appContext does)")
    parser.set_defaults(func=run_workup)
