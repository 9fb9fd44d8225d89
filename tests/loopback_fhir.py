"""A tiny FHIR-shaped HTTP server on a loopback socket, for tests of the FHIR fall-back path.

Routes are registered per test: a path (with query) maps to a canned answer. Every request is recorded so
tests can check what was sent (the bearer token) and what was never sent (allow-list).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    """A canned answer: JSON body (or raw bytes), status, optional delay before answering."""

    body: Any = None
    status: int = 200
    raw: bytes | None = None
    delay_s: float = 0.0
    content_type: str = "application/fhir+json"


@dataclass
class Recorded:
    """One request the server received."""

    path: str
    authorization: str | None


@dataclass
class LoopbackFhir:
    """State shared between the test and the server thread."""

    base_url: str = ""
    routes: dict[str, Answer] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def route(self, path: str, answer: Answer) -> None:
        """Answer ``path`` (relative to the base, query included) with ``answer``."""
        self.routes["/fhir/" + path.lstrip("/")] = answer


def _handler(state: LoopbackFhir) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            state.requests.append(Recorded(self.path, self.headers.get("Authorization")))
            answer = state.routes.get(self.path)
            if answer is None:
                answer = Answer({"resourceType": "OperationOutcome", "issue": [{"code": "not-found"}]}, 404)
            if answer.delay_s:
                time.sleep(answer.delay_s)
            payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
            return

    return Handler


@contextmanager
def loopback_fhir() -> Iterator[LoopbackFhir]:
    """Run a LoopbackFhir server on 127.0.0.1 (a free port) for the duration of the block."""
    state = LoopbackFhir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
