"""The one loopback test server: canned JSON/FHIR answers per path, or a chosen misbehaviour on every path.

``loopback_server()`` answers registered paths (a JSON body, or an ``Answer`` with status, raw bytes, delay and
content type) and records every request (path, Authorization header, count per path). ``loopback_fhir()`` is the
same server with its base URL at ``/fhir``. ``hostile_fhir(misbehaviour)`` drips, stalls or never ends its answer.
``running(server)`` / ``serve_app(app)`` run any socket server (or a WSGI app) on a thread for a block.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from werkzeug.serving import make_server

HOST = "127.0.0.1"
NOT_FOUND = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}


@contextmanager
def running(server: socketserver.BaseServer) -> Iterator[socketserver.BaseServer]:
    """Serve ``server`` on a daemon thread for the block; shut down, closed and joined afterwards."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` with a threaded werkzeug server on a free loopback port; yields its base URL."""
    with running(make_server(HOST, 0, app, threaded=True)) as server:
        yield f"http://{HOST}:{server.server_address[1]}"


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
class Loopback:
    """Routes (path -> JSON body or ``Answer``) and what was received, shared with the server thread."""

    base_url: str = ""
    routes: dict[str, Any] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    prefix: str = ""

    @property
    def total(self) -> int:
        """Requests received, on any path."""
        return sum(self.hits.values())

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (below the base URL)."""
        return self.base_url + path

    def route(self, path: str, answer: Answer) -> None:
        """Answer ``path`` (relative to the base URL, query included) with ``answer``."""
        self.routes[f"{self.prefix}/{path.lstrip('/')}"] = answer

    def answer(self, path: str, authorization: str | None) -> Answer:
        """Record the request and find its answer (a 404 OperationOutcome for unknown paths)."""
        self.requests.append(Recorded(path, authorization))
        self.hits[path] += 1
        found = self.routes.get(path)
        if found is None:
            return Answer(NOT_FOUND, 404)
        return found if isinstance(found, Answer) else Answer(found, content_type="application/json")


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            answer = state.answer(self.path, self.headers.get("Authorization"))
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
def loopback_server(prefix: str = "") -> Iterator[Loopback]:
    """Run a Loopback on 127.0.0.1 (a free port) for the block; its base URL ends in ``prefix``."""
    state = Loopback(prefix=prefix)
    server = ThreadingHTTPServer((HOST, 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://{HOST}:{server.server_address[1]}{prefix}"
    with running(server):
        yield state


def loopback_fhir() -> AbstractContextManager[Loopback]:
    """A Loopback whose base URL is its ``/fhir`` endpoint (a FHIR-shaped server)."""
    return loopback_server("/fhir")


HEADERS_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 100000\r\n\r\n"
HEADERS_CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n"
DRIP_INTERVAL_S = 1.0
ENDLESS_CHUNK = b'{"resourceType":"Bundle",' * 40
ENDLESS_INTERVAL_S = 0.005


class Misbehaviour(StrEnum):
    """How the hostile server treats every request."""

    DRIP_BODY = "drip-body"  # headers at once, then one byte a second of a long body
    DRIP_HEADERS = "drip-headers"  # the status line and headers a byte a second
    STALL = "stall"  # headers, then silence
    ENDLESS = "endless"  # a chunked body of small JSON-looking chunks, sent quickly and never finished


@dataclass
class HostileFhir:
    """The running hostile server: its base URL, what it does, and how many requests it has seen."""

    misbehaviour: Misbehaviour
    base_url: str = ""
    requests_seen: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


def _drip(sock: socket.socket, data: bytes, stop: threading.Event) -> None:
    for byte in data:
        if stop.wait(DRIP_INTERVAL_S):
            return
        sock.sendall(bytes([byte]))


def _misbehave(state: HostileFhir, sock: socket.socket) -> None:
    if state.misbehaviour is Misbehaviour.DRIP_HEADERS:
        _drip(sock, HEADERS_LENGTH, state.stop)
    elif state.misbehaviour is Misbehaviour.DRIP_BODY:
        sock.sendall(HEADERS_LENGTH)
        _drip(sock, b'{"resourceType":"Bundle","entry":[' + b" " * 99965 + b"]}", state.stop)
    elif state.misbehaviour is Misbehaviour.STALL:
        sock.sendall(HEADERS_LENGTH)
        state.stop.wait(120)
    else:
        sock.sendall(HEADERS_CHUNKED)
        line = f"{len(ENDLESS_CHUNK):x}\r\n".encode() + ENDLESS_CHUNK + b"\r\n"
        while not state.stop.wait(ENDLESS_INTERVAL_S):
            sock.sendall(line)


def _hostile_handler(state: HostileFhir) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            received = b""
            while b"\r\n\r\n" not in received:
                data = sock.recv(4096)
                if not data:
                    return
                received += data
            state.requests_seen += 1
            try:
                _misbehave(state, sock)
            except OSError:
                return  # the client gave up, as it should

    return Handler


@contextmanager
def hostile_fhir(misbehaviour: Misbehaviour) -> Iterator[HostileFhir]:
    """Run a HostileFhir server on 127.0.0.1 (a free port) for the block."""
    state = HostileFhir(misbehaviour)
    server = socketserver.ThreadingTCPServer((HOST, 0), _hostile_handler(state))
    server.daemon_threads = True
    state.base_url = f"http://{HOST}:{server.server_address[1]}/fhir"
    with running(server):
        try:
            yield state
        finally:
            state.stop.set()  # before the shutdown: the handlers waiting on it return at once
