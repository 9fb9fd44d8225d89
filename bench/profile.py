"""Where a hook call's time goes: ``.venv/bin/python -m bench.profile [--size N] [--calls N] [--sort KEY]``.

Profiles request bytes -> response bytes through the app exactly as ``bench/run.py`` times it (worker-built app,
a new hookInstance per call) with cProfile, then prints the top functions and a per-stage summary. cProfile sees the
calling thread only: the card writer's background writes show as waits on a lock (``release``), not as a stage.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.bodies import FreshInstances, realistic_body, release_sources, sized_body
from bench.inprocess import discovered_layout, make_app, screen_once, temp_database_url

# (label, file suffix, function name) of the stages of one call, in data-path order.
STAGES = (
    ("parse body (orjson)", "cds_hooks/blueprint.py", "_read_json"),
    ("validate request (marshmallow)", "cds_hooks/schemas.py", "load_hook_request"),
    ("prefetch resolution", "cds_hooks/prefetch.py", "resolve"),
    ("record + screen (handler)", "service/hooks.py", "handle"),
    ("  facts (incl. fhir.resources parsing)", "service/facts/patient.py", "build_facts"),
    ("  cards (card model, its checks included)", "service/cards.py", "build_cards"),
    ("work-up links (card model)", "service/workup/links.py", "add_links"),
    ("check a plain-JSON response (marshmallow)", "cds_hooks/response.py", "load_response"),
    ("serialise response (card model to_json)", "cds_hooks/model.py", "to_json"),
    ("queue issued cards (card writer)", "service/feedback.py", "record"),
    ("whole call (Flask WSGI)", "flask/app.py", "wsgi_app"),
)


def stage_summary(stats: pstats.Stats, calls: int) -> list[str]:
    """Cumulative milliseconds per call of each stage (profiler overhead included)."""
    table = stats.stats  # type: ignore[attr-defined]
    lines = [f"{'stage':<40} {'ms/call':>8}"]
    for label, suffix, name in STAGES:
        total = sum(v[3] for (path, _, func), v in table.items() if func == name and path.endswith(suffix))
        lines.append(f"{label:<40} {total / calls * 1000:>8.3f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Profile ``--calls`` hook calls and print the summary and the top functions."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--size", default="realistic", help="'realistic' or a number of resources")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime, ...)")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        app = make_app(now, temp_database_url(Path(folder)))
        layout = discovered_layout(app)
        body = realistic_body(now, layout) if args.size == "realistic" else sized_body(int(args.size), now, layout)
        release_sources()
        calls = FreshInstances(body)
        for _ in range(5):
            screen_once(app, calls.next())
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.calls):
            screen_once(app, calls.next())
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    sys.stdout.write("\n".join(stage_summary(stats, args.calls)) + "\n\n")
    stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
