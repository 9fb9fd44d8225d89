"""A JSON HTTP server on a loopback socket that counts every request (JWKS endpoints, FHIR servers)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Loopback:
    """Routes (path -> JSON body) and the count of requests per path, shared with the server thread."""

    base_url: str = ""
    routes: dict[str, Any] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Requests received, on any path."""
        return sum(self.hits.values())

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + path


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            state.hits[self.path] += 1
            body = state.routes.get(self.path)
            status = 404 if body is None else 200
            payload = json.dumps(body if body is not None else {"error": "not found"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
            return

    return Handler


@contextmanager
def loopback_server() -> Iterator[Loopback]:
    """Serve a Loopback on 127.0.0.1 (free port) for the duration of the block."""
    state = Loopback()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
