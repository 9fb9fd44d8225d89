"""Gunicorn pieces for operations: a master that drains on SIGTERM, workers' refusals in JSON.

SIGTERM to the master (a deploy, ``docker stop``, Kubernetes) first flips the shared ``DrainState`` - every worker's
``/readyz`` answers 503 at once - and keeps serving for ``drain_seconds`` so the load balancer moves traffic away;
only then does gunicorn's usual graceful stop begin. A second SIGTERM (or SIGINT/SIGQUIT) stops at once.
The worker itself (``service.ops.reading_worker``) answers what waits in the listen backlog before it exits.

Gunicorn's own refusals (request line over ``limit_request_line`` -> 414, headers over their limits -> 431,
malformed HTTP -> 400) leave as the same JSON as the app's errors, and their log line names only the error type
(the request line may carry a patient id).
"""

from __future__ import annotations

import errno
import time
from typing import Any

import orjson
from gunicorn import util
from gunicorn.arbiter import Arbiter
from gunicorn.http import errors as http_errors

from service.ops.drain import DrainState

QUEUE_EMPTY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)


class ReadDeadline(Exception):  # noqa: N818 (named for what happened, like gunicorn's own NoMoreData)
    """A request's headers and body did not arrive within the read deadline (answered 408)."""


_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (ReadDeadline, 408, "Request Timeout"),
    (http_errors.LimitRequestLine, 414, "URI Too Long"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden"),
    (http_errors.InvalidResponseHeader, 500, "Internal Server Error"),
    (http_errors.InvalidResponseHeaderName, 500, "Internal Server Error"),
    (http_errors.ConfigurationProblem, 500, "Internal Server Error"),
    (http_errors.ParseException, 400, "Bad Request"),
)


def error_status(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and reason gunicorn's refusal ``exc`` stands for (500 for anything unexpected)."""
    for kind, status, reason in _STATUS:
        if isinstance(exc, kind):
            return status, reason
    return 500, "Internal Server Error"


def error_bytes(status: int, reason: str) -> bytes:
    """A whole HTTP/1.1 response carrying the app's JSON error shape."""
    name = reason.lower().replace(" ", "_")
    body = orjson.dumps({"error": name, "message": reason.lower()})
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrors:
    """Worker mixin: gunicorn's own refusals answered in JSON, logged by error type only."""

    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer in JSON; log the error type only."""
        status, reason = error_status(exc)
        if status >= 500:
            self.log.error("error handling a request (%s)", type(exc).__name__)
        else:
            self.log.warning("refused a malformed request: %d (%s)", status, type(exc).__name__)
        try:
            util.write_nonblock(client, error_bytes(status, reason))
        except OSError:
            self.log.debug("could not send the error response")


class DrainingArbiter(Arbiter):  # type: ignore[misc]
    """Gunicorn's master, with a drain period between SIGTERM and the graceful stop."""

    def __init__(self, app: Any, drain: DrainState, drain_seconds: float) -> None:
        super().__init__(app)
        self.drain = drain
        self.drain_seconds = drain_seconds
        self.drain_until: float | None = None

    def handle_term(self) -> None:
        """First SIGTERM: start draining (or stop now when there is no drain period); a second one stops now."""
        if self.drain_until is not None or self.drain_seconds <= 0:
            self.drain.start()
            raise StopIteration
        self.drain.start()
        self.drain_until = time.monotonic() + self.drain_seconds
        self.log.info("SIGTERM: draining for %.1f s (/readyz answers 503), then stopping", self.drain_seconds)

    def manage_workers(self) -> None:
        """Once the drain period is over, stop (gunicorn's graceful stop follows)."""
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            raise StopIteration
        super().manage_workers()

    def wait_for_signals(self, timeout: float = 1.0) -> list[int]:
        """Wake up in time for the end of the drain period."""
        if self.drain_until is not None:
            timeout = max(0.05, min(timeout, self.drain_until - time.monotonic()))
        signals: list[int] = super().wait_for_signals(timeout=timeout)
        return signals
