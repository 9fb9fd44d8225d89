"""In-process figures: request bytes -> response bytes through the real WSGI app, next to ``json.loads`` (the floor)."""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bench.bodies import FreshInstances, Layout, layout_from_templates, resource_count

SERVICE_PATH = "/cds-services/fasciculation-reversible-causes"
MIN_BATCH_S = 0.05  # small bodies are timed in batches so clock resolution does not matter

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class ScreenRow:
    """One size of the in-process table (times are medians, in milliseconds)."""

    resources: int
    body_bytes: int
    floor_ms: float
    orjson_ms: float
    screen_ms: float
    cards: int

    @property
    def ratio(self) -> float:
        """Screen time over the json.loads floor."""
        return self.screen_ms / self.floor_ms


def make_app(now: datetime, database_url: str) -> Any:
    """The app as a gunicorn worker builds it (``service.server.worker_app``), with a fixed clock and its own SQLite."""
    from service.server import worker_app

    return worker_app({"clock": lambda: now, "database_url": database_url})


def temp_database_url(directory: Path | None = None) -> str:
    """A SQLite URL in a fresh temporary directory."""
    folder = Path(tempfile.mkdtemp(prefix="bench-db-", dir=directory))
    return f"sqlite:///{folder / 'cds.sqlite3'}"


def call_wsgi(app: WsgiApp, method: str, path: str, body: bytes = b"") -> tuple[str, bytes]:
    """Call the WSGI app directly (no test client overhead) and return (status line, response body)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(line)

    chunks = app(environ, start_response)
    try:
        out = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return status[0], out


def discovered_layout(app: WsgiApp) -> Layout:
    """Prefetch keys, their resource types and the labs' LOINC codes, as the service's discovery document says."""
    status, body = call_wsgi(app, "GET", "/cds-services")
    if not status.startswith("200"):
        raise RuntimeError(f"discovery failed: {status}")
    service = next(s for s in orjson.loads(body)["services"] if s["hook"] == "patient-view")
    return layout_from_templates(service["prefetch"])


def screen_once(app: WsgiApp, body: bytes) -> bytes:
    """One hook call; raises unless the answer is 200 with a cards list."""
    status, out = call_wsgi(app, "POST", SERVICE_PATH, body)
    if not status.startswith("200"):
        raise RuntimeError(f"hook call failed: {status} {out[:300]!r}")
    return out


def _per_call_s(action: Callable[[], object]) -> float:
    """Mean seconds per call over a batch lasting at least MIN_BATCH_S."""
    calls = 0
    started = time.perf_counter()
    while True:
        action()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= MIN_BATCH_S:
            return elapsed / calls


def measure_body(app: WsgiApp, body: bytes, runs: int) -> ScreenRow:
    """Median screen time (a new hookInstance per call) and json.loads floor for one request body."""
    calls = FreshInstances(body)
    cards = len(orjson.loads(screen_once(app, calls.next()))["cards"])  # warm-up, and the check that it works
    floors, orjsons, screens = [], [], []
    for _ in range(runs):
        floors.append(_per_call_s(lambda: json.loads(body)))
        orjsons.append(_per_call_s(lambda: orjson.loads(body)))
        screens.append(_per_call_s(lambda: screen_once(app, calls.next())))
    return ScreenRow(
        resources=resource_count(body),
        body_bytes=len(body),
        floor_ms=statistics.median(floors) * 1000,
        orjson_ms=statistics.median(orjsons) * 1000,
        screen_ms=statistics.median(screens) * 1000,
        cards=cards,
    )
