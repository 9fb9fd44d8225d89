"""The benchmark must keep running: its in-process part at tiny sizes, the table, and the Python load client.

No timing assertions here: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from bench.bodies import PREFETCH_TYPES, layout_from_templates, realistic_body, resource_count, sized_body
from bench.cli import main
from bench.http_load import percentile, run_python
from bench.inprocess import discovered_layout, make_app, measure_body, screen_once
from bench.report import screen_table

NOW = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _unfreeze_gc() -> Iterator[None]:
    """The bench builds apps as workers do (``gc.freeze()`` after start-up); give the test process its GC back."""
    yield
    gc.unfreeze()


def test_sized_bodies_hold_exactly_the_requested_resources() -> None:
    """Sizes are exact, keys are the service's, and generation is deterministic."""
    body = sized_body(100, NOW)
    assert resource_count(body) == 100
    assert set(orjson.loads(body)["prefetch"]) == set(PREFETCH_TYPES)
    assert sized_body(100, NOW) == body


def test_in_process_part_runs_at_tiny_sizes(tmp_path: Path) -> None:
    """10 and 100 resources through the real app, one run each, and the realistic patient."""
    app = make_app(NOW, f"sqlite:///{tmp_path / 'cds.sqlite3'}")
    layout = discovered_layout(app)
    realistic = realistic_body(NOW, layout)
    assert 40 <= resource_count(realistic) <= 80
    assert isinstance(orjson.loads(screen_once(app, realistic))["cards"], list)
    rows = [measure_body(app, sized_body(size, NOW, layout), runs=1) for size in (10, 100)]
    assert [row.resources for row in rows] == [10, 100]
    assert all(row.floor_ms > 0 and row.screen_ms > 0 for row in rows)
    assert len(screen_table(rows, runs=1)) == 5


def test_cli_prints_the_in_process_table(capsys: pytest.CaptureFixture[str]) -> None:
    """``bench/run.py`` end to end, HTTP and memory sections skipped."""
    assert main(["--sizes", "10", "--runs", "1", "--skip-http", "--skip-memory"]) == 0
    out = capsys.readouterr().out
    assert "In-process screen" in out
    assert "json.loads ms" in out


class _Ok(BaseHTTPRequestHandler):
    """Answers every POST with a small JSON body, keeping the connection open."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        """Quiet."""


@pytest.fixture()
def loopback_port() -> Iterator[int]:
    """A stdlib HTTP server on a loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_python_load_client_counts_requests(loopback_port: int) -> None:
    """The fallback load generator works against a loopback server (short, bounded run)."""
    result = run_python(loopback_port, "/cds-services/x", b'{"hookInstance":"a"}', concurrency=2, duration_s=0.3)
    assert result.requests > 0
    assert result.errors == 0
    assert result.p50_ms <= result.p99_ms


def test_layout_follows_the_templates() -> None:
    """Key types, read keys and the labs' LOINC codes come from the prefetch templates."""
    layout = layout_from_templates(
        {
            "patient": "Patient/{{context.patientId}}",
            "labs": "Observation?code=http://loinc.org|1-8,http://loinc.org|2-6",
        }
    )
    assert dict(layout.types) == {"patient": "Patient", "labs": "Observation"}
    assert layout.reads == {"patient"}
    assert layout.lab_codes == {"1-8", "2-6"}


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 of 1..100."""
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0


@pytest.mark.engine  # the fall-back section starts the Node engine inside bench/fallback.py (tests/markers.py)
def test_cli_prints_floor_ratios_and_fallback(capsys: pytest.CaptureFixture[str]) -> None:
    """A tiny full run: service and framework floor over HTTP (1 s each), then the fall-back section (2 calls)."""
    argv = ["--sizes", "10", "--runs", "1", "--skip-memory", "--http-runs", "1", "--duration", "1"]
    assert main([*argv, "--concurrency", "1,8", "--load-generator", "python", "--fallback-calls", "2"]) == 0
    out = capsys.readouterr().out
    assert "Service / framework floor" in out
    assert "req/s >= 0.40 x floor" in out and "p99 <= 20 ms" in out
    assert "FHIR fall-back" in out
    fallback = out[out.index("FHIR fall-back") :].splitlines()
    rows = [line for line in fallback if line.startswith(("engine defaults", "engine capping"))]
    assert [" all " in row or " stop " in row for row in rows] == [True] * 4  # 2 set-ups x (every page, stop)
