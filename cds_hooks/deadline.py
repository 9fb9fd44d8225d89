"""A hard deadline for blocking HTTP reads: at the deadline a watchdog shuts the connection's socket down.

A read timeout bounds each socket read, not the whole answer: a peer sending one byte a second, or an endless
chunked body, never trips it. While a ``DeadlineWatch`` is active in the current thread, every connection of a
session built with ``deadline_session()`` registers its socket when it waits for an answer; when the deadline
passes the watchdog shuts that socket down, so a read blocked in the status line, the headers or the body
returns at once, whatever the peer does.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from contextvars import ContextVar
from types import TracebackType
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CURRENT: ContextVar[DeadlineWatch | None] = ContextVar("cds_hooks_deadline_watch", default=None)


def _shut_down(sock: socket.socket) -> None:
    """Shut the socket down for both directions (the plain-socket call: an SSL socket's would drop its state)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class DeadlineWatch:
    """Shuts down every socket attached to it once ``deadline`` (time.monotonic) has passed; a context manager."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._closed = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._token: Any = None

    def attach(self, sock: socket.socket) -> None:
        """Watch ``sock`` (shut down at once if the deadline has already passed)."""
        with self._lock:
            if self._closed:
                return
            if self.fired:
                _shut_down(sock)
            else:
                self._sockets.append(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.fired = True
            for sock in self._sockets:
                _shut_down(sock)

    @property
    def expired(self) -> bool:
        """The deadline has passed (whether or not the watchdog has run yet)."""
        return self.fired or time.monotonic() >= self.deadline

    def __enter__(self) -> DeadlineWatch:
        self._token = _CURRENT.set(self)
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            self._sockets.clear()
        _CURRENT.reset(self._token)


class _WatchedHTTPConnection(HTTPConnection):
    """An HTTP connection that puts its socket under the current thread's deadline watch while it waits."""

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        """Register the socket with the active watch, then read the answer as usual."""
        watch = _CURRENT.get()
        if watch is not None and self.sock is not None:
            watch.attach(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The HTTPS variant: TLS from ``HTTPSConnection``, the watched ``getresponse`` from the HTTP one."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose pools build watched connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Build the pool manager, then swap in the watched pool classes."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def timed_out(error: BaseException | None) -> bool:
    """A read or connect timeout anywhere in the chain: requests reports a streamed body's read timeout as a
    ConnectionError wrapping urllib3's ReadTimeoutError, so ``isinstance(error, requests.Timeout)`` misses it;
    a refused connection is not a timeout, though requests raises it as ConnectTimeout's kin."""
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        # urllib3 2 makes NewConnectionError (refused, no route) a ConnectTimeoutError: only its cause can tell.
        connect_failed = isinstance(error, urllib3.exceptions.NewConnectionError)
        if not connect_failed and isinstance(error, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
            return True
        wrapped = [arg for arg in error.args if isinstance(arg, BaseException)]
        error = error.__cause__ or error.__context__ or (wrapped[0] if wrapped else None)
    return False


def read_capped(
    response: requests.Response,
    max_bytes: int,
    too_large: Exception,
    deadline: float = math.inf,
    too_late: Exception | None = None,
) -> bytes:
    """The body, read in chunks: ``too_large`` is raised past ``max_bytes``, ``too_late`` past ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        if too_late is not None and time.monotonic() >= deadline:
            raise too_late
        chunks.append(chunk)
    return b"".join(chunks)


class AnswerTooLarge(requests.RequestException):
    """An answer longer than the session's cap (raised while reading it, before it is all in memory)."""


class AnswerTooLate(requests.Timeout):
    """An answer still arriving when the active deadline passed."""


class _CappedAdapter(_DeadlineAdapter):
    """A watched adapter that reads every body itself, capped in size and bounded by the active deadline."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Send as usual but streamed, then read the body under the cap and the deadline (callers get it whole)."""
        kwargs["stream"] = True
        response = super().send(request, *args, **kwargs)
        watch = _CURRENT.get()
        deadline = watch.deadline if watch is not None else math.inf
        try:
            too_large = AnswerTooLarge(f"answer larger than {self.max_bytes} bytes")
            body = read_capped(response, self.max_bytes, too_large, deadline, AnswerTooLate("deadline passed"))
        finally:
            response.close()
        response._content = body  # what ``response.content`` would have read, now read under the limits
        return response


def capped_session(max_bytes: int, session: requests.Session | None = None) -> requests.Session:
    """``session`` (or a new one) honouring an active ``DeadlineWatch`` and refusing answers over ``max_bytes``.

    Any requests-based client can be bounded this way (authlib's ``OAuth2Session`` is a ``requests.Session``).
    """
    bounded = session if session is not None else requests.Session()
    bounded.mount("http://", _CappedAdapter(max_bytes))
    bounded.mount("https://", _CappedAdapter(max_bytes))
    return bounded


def deadline_session() -> requests.Session:
    """A session whose connections honour an active ``DeadlineWatch``."""
    session = requests.Session()
    session.mount("http://", _DeadlineAdapter())
    session.mount("https://", _DeadlineAdapter())
    return session
