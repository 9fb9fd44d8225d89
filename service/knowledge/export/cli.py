"""``fasciculation-cds knowledge export --out DIR [--html]``: the knowledge as a FHIR NPM package, and its book."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from service.knowledge import load_knowledge

EXIT_OUT = 2


def export(args: argparse.Namespace) -> int:
    """Write the package (DIR/package/) from the loaded knowledge; print what was written."""
    # Jinja and Flask come in here, not when the CLI starts (``evaluate`` needs neither).
    from service.knowledge.export.book import Changes, compare, render_book, write_book
    from service.knowledge.export.changes import PreviousError, read_previous
    from service.knowledge.export.package import write_package
    from service.knowledge.export.web import service_package

    out = Path(args.out)
    problem = "is not a folder" if out.exists() and not out.is_dir() else None
    if problem or (args.previous and not args.html):
        sys.stderr.write(f"error: --out {out} {problem}\n" if problem else "error: --previous needs --html\n")
        return EXIT_OUT
    knowledge = load_knowledge()
    package = service_package(knowledge)
    try:
        changes = compare(knowledge, package, read_previous(Path(args.previous))) if args.previous else Changes()
    except PreviousError as exc:
        sys.stderr.write(f"error: --previous: {exc}\n")
        return EXIT_OUT
    try:
        folder = write_package(package, out)
        book = write_book(render_book(knowledge, changes), out) if args.html else None
    except OSError as exc:
        sys.stderr.write(f"error: cannot write under {out}: {exc.strerror or exc}\n")
        return EXIT_OUT
    sys.stdout.write(f"{package.name} {knowledge.version}: {len(package.resources)} resources in {folder}\n")
    if book is not None:
        sys.stdout.write(f"knowledge book: {book / 'index.html'}\n")
    return 0


def add_knowledge_parser(commands: Any) -> None:
    """The ``knowledge`` subcommand and its ``export``."""
    knowledge = commands.add_parser("knowledge", help="publish the knowledge base")
    actions = knowledge.add_subparsers(dest="knowledge_command", required=True)
    run = actions.add_parser("export", help="write the knowledge as a FHIR R4 NPM package (DIR/package/)")
    run.add_argument("--out", required=True, help="folder to write into (created if missing)")
    run.add_argument(
        "--html", action="store_true", help="also write the knowledge book for clinical review (DIR/book/)"
    )
    run.add_argument("--previous", help="an earlier export's folder: the book says what changed since it (with --html)")
    run.set_defaults(func=export)
