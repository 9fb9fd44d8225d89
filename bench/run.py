"""Entry point: ``.venv/bin/python bench/run.py [--help]`` from the repository root (see bench/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path


def _main() -> int:
    """Put the repository root on sys.path (this file runs as a script) and hand over to bench.cli."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    from bench.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(_main())
