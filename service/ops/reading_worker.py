"""Gunicorn's threaded worker with requests read by its event loop: an idle or slow client costs a socket, not a thread.

Gunicorn's ``gthread`` worker keeps idle keep-alive connections in its selector, but once a request's first byte
arrives it gives the connection to a pool thread, which then blocks until the client has sent the whole request:
a few hundred clients sending their headers a byte at a time hold every thread. Here the main loop reads each
request without blocking (headers, and a ``Content-Length`` body up to ``CDS_MAX_BODY_BYTES``) and a thread gets
the connection only once the whole request is in memory.

**Read deadline** (``CDS_REQUEST_READ_TIMEOUT_S``): from a request's first byte, its headers and body must have
arrived within the deadline, else it is answered ``408`` and the connection closed (checked once a second, so a
late request is answered within the deadline plus one second). A connection that sends nothing is closed after
the keep-alive timeout, as gunicorn does. A body the loop does not read ahead (chunked, ``Expect: 100-continue``,
over the size limit) is read by the thread under the same deadline. Writing the response is bounded by the same
number of seconds, so a client that stops reading its answers frees the thread.

**Stopping**: told to stop, the worker accepts what already waits in the listen backlog, closes its listening
sockets at once, then answers every request it accepted (in flight, or still arriving within its deadline) before
exiting within gunicorn's graceful timeout; idle connections are closed after at most 2 s (gunicorn's linger).
Closing after ``Connection: close`` lingers in the loop too (gunicorn's own close blocks the loop up to 2 s for a
client that keeps its end open).
"""

from __future__ import annotations

import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from service.ops.gunicorn_parts import QUEUE_EMPTY, JsonErrors, ReadDeadline, error_bytes

HEAD_END = b"\r\n\r\n"
RECV_BYTES = 256 * 1024
MAX_HEAD_BYTES = 64 * 1024  # past this without the end of the headers, the parser refuses the request (431)
CLOSE_LINGER_S = 2.0  # as gunicorn's close_graceful
CLOSE_DRAIN_BYTES = 64 * 1024
DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


def body_length(head: bytes, max_body_bytes: int) -> int:
    """Body bytes the loop reads ahead for this header block (0: the thread reads the body, if any)."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"transfer-encoding", b"expect"):
            return 0
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return 0  # the parser refuses it
    return length if 0 <= length <= max_body_bytes else 0


class DeadlineSocket:
    """The socket as the request parser sees it: every read ends by the connection's read deadline."""

    def __init__(self, sock: socket.socket, conn: ReadingConn) -> None:
        self._sock = sock
        self._conn = conn

    def recv(self, size: int) -> bytes:
        """``recv`` bounded by the deadline (``ReadDeadline`` once it has passed)."""
        remaining = self._conn.read_deadline - time.monotonic()
        if remaining <= 0:
            raise ReadDeadline("request read deadline passed")
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size)
        except TimeoutError:
            raise ReadDeadline("request read deadline passed") from None
        finally:
            self._sock.settimeout(None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ReadingConn(TConn):  # type: ignore[misc]
    """A connection with the bytes of its next request, read by the event loop."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any) -> None:
        super().__init__(cfg, sock, client, server)
        self.received = bytearray()
        self.expected: int | None = None  # the whole request's size, once its headers are in
        self.read_deadline = 0.0
        self.deadline_set = False
        self.close_later: Any = None  # the worker's non-blocking graceful close

    def close(self, graceful: bool = False) -> None:
        """A graceful close lingers in the event loop (gunicorn's own blocks the loop up to 2 s per socket)."""
        if graceful and self.close_later is not None:
            self.close_later(self)
        else:
            super().close()

    def init(self) -> None:
        """Gunicorn's set-up, then the parser reads through the deadline."""
        fresh = self.parser is None
        super().init()
        if fresh and self.parser is not None:
            self.parser.unreader.sock = DeadlineSocket(self.sock, self)


class ReadingThreadWorker(JsonErrors, ThreadWorker):  # type: ignore[misc]
    """``gthread`` whose main loop reads whole requests before a thread runs them."""

    read_timeout_s = DEFAULT_READ_TIMEOUT_S
    max_body_bytes = DEFAULT_MAX_BODY_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading: set[ReadingConn] = set()
        self.closing: dict[ReadingConn, int] = {}  # half-closed connections: bytes drained so far

    def accept(self, listener: Any) -> bool:
        """Accept one connection and start reading its first request; False when none was waiting."""
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno in QUEUE_EMPTY:
                return False
            raise
        self.nr_conns += 1
        conn = ReadingConn(self.cfg, client, address, listener.getsockname())
        conn.close_later = self._close_later
        self._start_reading(conn, time.monotonic() + self.cfg.keepalive)
        return True

    def _start_reading(self, conn: ReadingConn, idle_until: float) -> None:
        conn.received.clear()
        conn.expected = None
        conn.timeout = idle_until
        conn.sock.setblocking(False)
        self.reading.add(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _stop_reading(self, conn: ReadingConn) -> None:
        self.reading.discard(conn)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _on_readable(self, conn: ReadingConn, _sock: Any = None) -> None:
        data = _received(conn)
        if data is None:
            return
        if not data:
            self._close(conn)
            return
        if not conn.received:
            conn.timeout = time.monotonic() + self.read_timeout_s
        conn.received += data
        if self._complete(conn):
            self._stop_reading(conn)
            self._dispatch(conn)

    def _complete(self, conn: ReadingConn) -> bool:
        if conn.expected is None:
            end = conn.received.find(HEAD_END)
            if end < 0:
                return len(conn.received) > MAX_HEAD_BYTES
            head = bytes(conn.received[:end])
            conn.expected = end + len(HEAD_END) + body_length(head, self.max_body_bytes)
        return len(conn.received) >= conn.expected

    def _dispatch(self, conn: ReadingConn) -> None:
        """Hand the whole request to a thread (the parser reads it from memory)."""
        conn.data_ready = True
        conn.init()
        conn.parser.unreader.unread(bytes(conn.received))
        conn.received.clear()
        conn.read_deadline, conn.deadline_set = conn.timeout, True
        self.enqueue_req(conn)

    def enqueue_req(self, conn: ReadingConn) -> None:
        """Submit a whole request to the pool; a pipelined one found buffered is first read whole in the loop too."""
        if conn.deadline_set:
            conn.deadline_set = False
            super().enqueue_req(conn)
            return
        pipelined = conn.parser.unreader.take_buffered()
        self._start_reading(conn, time.monotonic() + self.read_timeout_s)
        conn.received += pipelined
        if self._complete(conn):
            self._stop_reading(conn)
            self._dispatch(conn)

    def handle_request(self, req: Any, conn: ReadingConn) -> bool:
        """Gunicorn's own, with the response's writes bounded too: a client that stops reading frees the thread."""
        conn.sock.settimeout(self.read_timeout_s)
        try:
            keepalive: bool = super().handle_request(req, conn)
            return keepalive
        except TimeoutError:
            self.log.warning("a client did not read its answer within %.0f s: connection closed", self.read_timeout_s)
            return False
        finally:
            conn.sock.settimeout(None)

    def on_client_socket_readable(self, conn: ReadingConn, client: Any) -> None:
        """A kept-alive connection has bytes: read its next request in the loop, not in a thread."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_reading(conn, conn.timeout)
        self._on_readable(conn)

    def _close(self, conn: ReadingConn, answer: bytes | None = None) -> None:
        self._stop_reading(conn)
        if answer is not None:
            try:
                conn.sock.send(answer)
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def _close_later(self, conn: ReadingConn) -> None:
        """RFC 9112 9.6 close without blocking: FIN now, drain what the client still sends, close on EOF or linger."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            conn.sock.close()
            return
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + CLOSE_LINGER_S
        self.closing[conn] = 0
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain_closing, conn))

    def _drain_closing(self, conn: ReadingConn, _sock: Any = None) -> None:
        data = _received(conn)
        if data is None:
            return
        self.closing[conn] += len(data)
        if not data or self.closing[conn] > CLOSE_DRAIN_BYTES:
            self._finish_closing(conn)

    def _finish_closing(self, conn: ReadingConn) -> None:
        self.closing.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        conn.sock.close()

    def murder_pending(self) -> None:
        """Gunicorn's own expiry, then ours: idle connections closed, partial requests answered 408."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.reading if c.timeout <= now]:
            self._close(conn, error_bytes(408, "Request Timeout") if conn.received else None)
        for conn in [c for c in self.closing if c.timeout <= now]:
            self._finish_closing(conn)

    def murder_keepalived(self, force: bool = False) -> None:
        """Gunicorn's own; forced (the very end of a stop) also closes connections still being read."""
        super().murder_keepalived(force)
        if force:
            for conn in list(self.reading):
                self._close(conn, error_bytes(408, "Request Timeout") if conn.received else None)
            for conn in list(self.closing):
                self._finish_closing(conn)

    def set_accept_enabled(self, enabled: bool) -> None:
        """On stop: take the listen backlog, close the listening sockets, give idle connections a short linger."""
        if enabled or self.alive:
            super().set_accept_enabled(enabled)
            return
        super().set_accept_enabled(False)
        for listener in self.sockets:
            while self.accept(listener):
                pass
            listener.close()
        linger = time.monotonic() + STOP_KEEPALIVE_LINGER
        for conn in self.reading:
            if not conn.received:
                conn.timeout = min(conn.timeout, linger)


def _received(conn: ReadingConn) -> bytes | None:
    """What the socket has for us: None when nothing yet (would block), b"" when the peer closed or it failed."""
    try:
        return bytes(conn.sock.recv(RECV_BYTES))
    except BlockingIOError:
        return None
    except OSError:
        return b""
