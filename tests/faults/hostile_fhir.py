"""A FHIR server on a loopback socket that misbehaves on purpose: it drips, stalls or never ends its answer.

Every path answers the same way, chosen per server: ``drip-body`` (headers at once, then one byte a second of a
long body), ``drip-headers`` (the status line and headers a byte a second), ``stall`` (headers, then silence)
and ``endless`` (a chunked body of small JSON-looking chunks, sent quickly and never finished).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

HEADERS_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 100000\r\n\r\n"
HEADERS_CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n"
DRIP_INTERVAL_S = 1.0
ENDLESS_CHUNK = b'{"resourceType":"Bundle",' * 40
ENDLESS_INTERVAL_S = 0.005


class Misbehaviour(StrEnum):
    """How the server treats every request."""

    DRIP_BODY = "drip-body"
    DRIP_HEADERS = "drip-headers"
    STALL = "stall"
    ENDLESS = "endless"


@dataclass
class HostileFhir:
    """The running server: its base URL, what it does, and how many requests it has seen."""

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


def _handler(state: HostileFhir) -> type[socketserver.BaseRequestHandler]:
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
    """Run a HostileFhir server on 127.0.0.1 (a free port) for the duration of the block."""
    state = HostileFhir(misbehaviour)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
