"""FHIR fall-back figures: hook calls with no prefetch against the test FHIR engine holding the largest Synthea patient.

For each engine set-up the service is called ``calls`` times through the real WSGI app (it fetches every key from the
engine), once with the labs paging test of ``service/facts/fallback_paging.py`` and once with it switched off (the
"before"); next to it, the same GETs the service made, timed directly (read, not parsed): serially, and side by
side as the service issues them. The difference is the service's own overhead above the FHIR server.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import requests

from bench.http_load import percentile
from bench.inprocess import SERVICE_PATH, call_wsgi
from cds_hooks import FhirClient, render_template
from cds_hooks.fhir_client import PagesEnough
from tests.engine.fhir_engine_harness import FhirEngine, LoadedPatient, load_transaction, start_engine
from tests.synthea_data import bundle_name, read_bundle, synthea_paths

ENGINE_TOKEN = "bench-engine-token"
# (label, engine arguments): as started by the tests, and a server that caps pages at 50 entries (paging happens).
ENGINE_SETUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("engine defaults (max page 1000)", ()),
    ("engine capping pages at 50", ("--max-count", "50")),
)


@dataclass(frozen=True)
class FallbackRow:
    """One engine set-up and one paging mode: service call and engine times in milliseconds."""

    setup: str
    narrowed: bool
    calls: int
    p50_ms: float
    p95_ms: float
    gets: int
    entries: int
    engine_serial_ms: float
    engine_parallel_ms: float
    cards: int


def largest_synthea_path() -> Path:
    """The Synthea bundle with the most entries."""
    return max(synthea_paths(), key=lambda path: len(read_bundle(path).get("entry") or []))


class _RecordingClient(FhirClient):
    """A FhirClient that notes every URL it GETs (to replay the service's queries against the engine directly)."""

    def __init__(self, base_url: str, token: str | None, urls: list[str], session: requests.Session) -> None:
        super().__init__(base_url, token, session=session)
        self.urls = urls

    def get_json(self, url: str) -> dict[str, Any]:
        """GET and record."""
        self.urls.append(self._absolute(url))
        return super().get_json(url)


def _app(now: datetime, database_url: str, engine: FhirEngine, narrowed: bool) -> Any:
    """The app as a worker builds it, allowed to call the engine; ``narrowed=False`` switches the paging test off."""
    import service.hooks
    from service.server import worker_app

    original = service.hooks.labs_pages_enough
    if not narrowed:
        service.hooks.labs_pages_enough = lambda knowledge: lambda entries: False
    try:
        config = {"clock": lambda: now, "database_url": database_url, "fhir_server_allowlist": engine.base_url}
        return worker_app(config)
    finally:
        service.hooks.labs_pages_enough = original


def _body(engine: FhirEngine, patient_id: str) -> bytes:
    """A patient-view call with no prefetch at all: everything comes from the FHIR server."""
    return orjson.dumps(
        {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "fhirServer": engine.base_url,
            "fhirAuthorization": {
                "access_token": ENGINE_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "bench",
            },
            "context": {"userId": "Practitioner/bench", "patientId": patient_id},
        }
    )


def _templates(app: Any) -> dict[str, str]:
    """The patient-view prefetch templates the app announces in discovery."""
    _, body = call_wsgi(app, "GET", "/cds-services")
    service_id = SERVICE_PATH.rsplit("/", 1)[1]
    templates: dict[str, str] = next(s["prefetch"] for s in orjson.loads(body)["services"] if s["id"] == service_id)
    return templates


def _service_gets(
    templates: dict[str, str], enough: dict[str, PagesEnough], engine: FhirEngine, patient_id: str
) -> tuple[list[list[str]], int]:
    """The GETs (per key, pages in order) the templates and paging tests lead to, and the entries they read."""
    context = {"patientId": patient_id, "userId": "Practitioner/bench"}
    per_key: list[list[str]] = []
    entries = 0
    with requests.Session() as session:
        for key, template in templates.items():
            urls: list[str] = []
            client = _RecordingClient(engine.base_url, ENGINE_TOKEN, urls, session)
            document = client.fetch(render_template(template, context), enough.get(key))
            entries += len(document.get("entry") or []) if document.get("resourceType") == "Bundle" else 1
            per_key.append(urls)
    return per_key, entries


def _time_gets(per_key: Sequence[Sequence[str]], token: str, runs: int) -> tuple[float, float]:
    """Median ms of the same GETs replayed directly: all serially, and one thread per key (pages in order)."""
    session = requests.Session()
    headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {token}"}

    def key_pages(urls: Sequence[str]) -> None:
        for url in urls:
            session.get(url, headers=headers, timeout=30).content  # noqa: B018 - read the body, do not parse it

    serial, parallel = [], []
    with ThreadPoolExecutor(max_workers=max(1, len(per_key))) as pool:
        for _ in range(runs):
            started = time.perf_counter()
            for urls in per_key:
                key_pages(urls)
            serial.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            list(pool.map(key_pages, per_key))
            parallel.append((time.perf_counter() - started) * 1000)
    session.close()
    return statistics.median(serial), statistics.median(parallel)


def _call_times(app: Any, engine: FhirEngine, patient_id: str, calls: int) -> tuple[list[float], int]:
    """Wall ms of ``calls`` no-prefetch hook calls (each a new hookInstance), and the cards of the last one."""
    times, cards = [], 0
    for _ in range(calls):
        body = _body(engine, patient_id)
        started = time.perf_counter()
        status, answer = call_wsgi(app, "POST", SERVICE_PATH, body)
        times.append((time.perf_counter() - started) * 1000)
        if not status.startswith("200"):
            raise RuntimeError(f"fall-back call answered {status}: {answer[:300]!r}")
        cards = len(orjson.loads(answer)["cards"])
    return sorted(times), cards


def measure_setup(
    label: str, engine: FhirEngine, patient: LoadedPatient, now: datetime, scratch: Path, calls: int
) -> list[FallbackRow]:
    """Before (page everything) and after (labs paging test) for one engine set-up."""
    from service.facts.fallback_paging import labs_pages_enough
    from service.knowledge import load_knowledge

    rows = []
    for narrowed in (False, True):
        app = _app(now, f"sqlite:///{tempfile.mkdtemp(dir=scratch)}/cds.sqlite3", engine, narrowed)
        enough = {"labs": labs_pages_enough(load_knowledge())} if narrowed else {}
        try:
            per_key, entries = _service_gets(_templates(app), enough, engine, patient.patient_id)
            _call_times(app, engine, patient.patient_id, 2)  # warm-up: connections, caches
            times, cards = _call_times(app, engine, patient.patient_id, calls)
        finally:
            app.extensions["fasciculation_cds.store"].close()
        serial_ms, parallel_ms = _time_gets(per_key, ENGINE_TOKEN, max(3, calls // 3))
        rows.append(
            FallbackRow(
                label,
                narrowed,
                calls,
                percentile(times, 0.5),
                percentile(times, 0.95),
                sum(len(urls) for urls in per_key),
                entries,
                serial_ms,
                parallel_ms,
                cards,
            )
        )
    return rows


@contextmanager
def _engine_holding(path: Path, log_dir: Path, extra_args: Sequence[str]) -> Iterator[tuple[FhirEngine, LoadedPatient]]:
    """A token-protected engine holding one Synthea patient (loaded by transaction)."""
    engine = start_engine(log_dir, token=ENGINE_TOKEN, extra_args=extra_args)
    try:
        yield engine, load_transaction(engine, read_bundle(path), bundle_name(path))
    finally:
        engine.stop()


def measure_fallback(now: datetime, scratch: Path, calls: int) -> tuple[str, int, list[FallbackRow]]:
    """Every engine set-up, before and after: (patient name, resources loaded, rows)."""
    path = largest_synthea_path()
    rows: list[FallbackRow] = []
    loaded = 0
    for label, extra_args in ENGINE_SETUPS:
        with _engine_holding(path, scratch, extra_args) as (engine, patient):
            loaded = len(patient.resources)
            rows.extend(measure_setup(label, engine, patient, now, scratch, calls))
    return bundle_name(path).split("_")[0] + " " + bundle_name(path).split("_")[1], loaded, rows


def fallback_table(name: str, loaded: int, rows: Sequence[FallbackRow]) -> list[str]:
    """The fall-back figures: service call next to the engine's own time for the same GETs."""
    lines = [
        "FHIR fall-back: patient-view with no prefetch, test FHIR engine (Node, Medplum) holding the largest Synthea",
        f"patient ({name}, {loaded} resources); service = in-process WSGI call, {rows[0].calls if rows else 0} calls;",
        "engine = the same GETs replayed directly (body read, not parsed), serially and one thread per key",
        f"{'set-up':<32} {'paging':<9} {'GETs':>4} {'entries':>7} {'p50 ms':>8} {'p95 ms':>8} {'engine ser':>10}"
        f" {'engine par':>10} {'p50-par':>8} {'cards':>5}",
    ]
    for row in rows:
        paging = "stop" if row.narrowed else "all"
        lines.append(
            f"{row.setup:<32} {paging:<9} {row.gets:>4} {row.entries:>7} {row.p50_ms:>8.1f} {row.p95_ms:>8.1f}"
            f" {row.engine_serial_ms:>10.1f} {row.engine_parallel_ms:>10.1f}"
            f" {row.p50_ms - row.engine_parallel_ms:>8.1f} {row.cards:>5}"
        )
    return lines
