"""Log set-up for ``serve``: plain or JSON lines, and third-party loggers kept from printing patient data.

Libraries log what they handle: urllib3 the FHIR URLs it requests (``/Observation?patient=...``), SQLAlchemy its
statements and parameters, werkzeug and gunicorn's access log request lines. Their records are held to WARNING
and above whatever ``CDS_LOG_LEVEL`` says, and even then lose their arguments and traceback text: the message
template says what happened, the withheld arguments would say about whom. Gunicorn's own DEBUG lines are treated
the same way, and its default ``pre_request`` hook (a DEBUG line with the request path) is replaced by
``log_request_start``, which names the method only.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from gunicorn.glogging import Logger as GunicornBaseLogger

# Loggers whose records may carry URLs, SQL parameters or bodies.
THIRD_PARTY_LOGGERS = (
    "urllib3",
    "requests",
    "charset_normalizer",
    "sqlalchemy",
    "werkzeug",
    "gunicorn.access",
    "fhir",
    "fhir_core",
    "pydantic",
)
# Loggers whose messages are written for this service's log (hookInstance, service id, rule ids, timings).
GUNICORN_ERROR_LOGGER = "gunicorn.error"
OWN_LOGGERS = ("cds_hooks", "service", GUNICORN_ERROR_LOGGER, "root")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class LogFormat(StrEnum):
    """``CDS_LOG_FORMAT``: one line of text, or one JSON object, per record."""

    TEXT = "text"
    JSON = "json"


def parse_log_format(raw: str) -> LogFormat:
    """``CDS_LOG_FORMAT`` as a LogFormat (ValueError naming the variable otherwise)."""
    try:
        return LogFormat(raw.strip().lower())
    except ValueError:
        raise ValueError(f"CDS_LOG_FORMAT must be one of {', '.join(LogFormat)}, not {raw!r}") from None


def _is_own(record: logging.LogRecord) -> bool:
    """Our loggers' records keep their arguments; gunicorn's own only from INFO up (its DEBUG lines carry request
    lines and unparsed request bytes: "GET /cds-services/<id>", "No more data after: b'...'")."""
    name = record.name
    if name == GUNICORN_ERROR_LOGGER and record.levelno < logging.INFO:
        return False
    return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


class WithholdArguments(logging.Filter):
    """Third-party records keep their message template and exception type, never their arguments or traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Strip the record (in place) unless it comes from one of our own loggers."""
        if _is_own(record):
            return True
        message = f"{record.msg} [arguments withheld]" if record.args else str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            message += f" ({record.exc_info[0].__name__})"
        record.msg, record.args = message, ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single-line JSON object."""
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(document).decode()


def formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter for ``log_format``."""
    return JsonFormatter() if log_format is LogFormat.JSON else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: LogFormat) -> None:
    """Root handler on stderr with our format and filter; third-party loggers floored at WARNING."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"CDS_LOG_LEVEL {level!r} is not a log level")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(WithholdArguments())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
    GunicornLogger.log_format = log_format


class GunicornLogger(GunicornBaseLogger):  # type: ignore[misc]
    """Gunicorn's own log as JSON when so configured, with arguments withheld like the root handler's."""

    log_format = LogFormat.TEXT

    def setup(self, cfg: Any) -> None:
        """Let gunicorn build its handlers, then give them our formatter and filter."""
        super().setup(cfg)
        for handler in [*self.error_log.handlers, *self.access_log.handlers]:
            handler.addFilter(WithholdArguments())
        if self.log_format is LogFormat.JSON:
            for handler in [*self.error_log.handlers, *self.access_log.handlers]:
                handler.setFormatter(JsonFormatter())


def log_request_start(worker: Any, req: Any) -> None:
    """Gunicorn ``pre_request`` hook: a DEBUG line with the method only (the path and query may name a patient)."""
    worker.log.debug("request started: %s", req.method)
