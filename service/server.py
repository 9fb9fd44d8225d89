"""Serving the app with gunicorn from inside the CLI (no separate config file to keep in step).

``serve`` also owns what the workers share: the draining flag (``CDS_DRAIN_SECONDS`` between SIGTERM and the
graceful stop), and the prometheus-client multiprocess directory (``PROMETHEUS_MULTIPROC_DIR`` if set - emptied at
start - else a private temporary directory removed at exit; a worker that exits is marked dead in it). No gunicorn
control socket is opened: several instances on one host would otherwise fight over the same path.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from sqlalchemy.exc import SQLAlchemyError

from service.config import Settings, load_settings
from service.logs import GunicornLogger, configure_logging, log_request_start, parse_log_format
from service.ops.drain import DrainState
from service.ops.gunicorn_parts import DrainingArbiter
from service.ops.metrics import MULTIPROC_ENV
from service.ops.reading_worker import ReadingThreadWorker
from service.security import serve_refusal
from service.store import open_store
from service.store.file_guard import FileIdentity, identity, sqlite_file
from service.store.resilience import describe
from service.workup.sessions import prepare_session_key

log = logging.getLogger(__name__)
EXIT_REFUSED = 2
# Below gunicorn's own maxima, answered by the worker with a JSON 414/431.
LIMIT_REQUEST_LINE = 8190
LIMIT_REQUEST_FIELD_SIZE = 8190
LIMIT_REQUEST_FIELDS = 100
WORKER_CONNECTIONS = 1000  # per worker: open connections (idle ones cost a socket); past it the backlog holds them
GRACEFUL_TIMEOUT_S = 10
KEEPALIVE_S = 5


def worker_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The app as each worker builds it: ``create_app(config)``, then its start-up objects frozen out of the GC."""
    from service import create_app

    app = create_app(config)
    # Start-up objects (modules, knowledge, schemas) live as long as the worker: freezing them keeps full garbage
    # collections to the requests' own objects (bench/README.md: fewer and shorter pauses).
    gc.freeze()
    return app


class _GunicornApp(BaseApplication):  # type: ignore[misc]
    """Gunicorn application that builds the Flask app in each worker via create_app()."""

    def __init__(self, options: dict[str, Any], drain: DrainState, drain_seconds: float, shared: Mapping[str, Any]):
        self._options = options
        self._drain = drain
        self._drain_seconds = drain_seconds
        self._shared = dict(shared)
        super().__init__()

    def load_config(self) -> None:
        """Copy our options into gunicorn's settings (those this gunicorn version knows)."""
        for key, value in self._options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the WSGI app (once per worker, after fork)."""
        return worker_app({"drain": self._drain, **self._shared})

    def run(self) -> None:
        """Run the draining master instead of gunicorn's own."""
        DrainingArbiter(self, self._drain, self._drain_seconds).run()


def _worker_closing(_server: Any, worker: Any) -> None:
    """Gunicorn ``worker_exit`` hook (in the worker): the app writes its queued cards and closes its store."""
    from service import close_app

    if isinstance(getattr(worker, "wsgi", None), Flask):  # a worker that failed to boot has no app
        close_app(worker.wsgi)
        log.info("worker %d closed its store", worker.pid)


def _worker_exited(_server: Any, worker: Any) -> None:
    """Gunicorn ``child_exit`` hook: drop the worker's live gauges from the multiprocess directory."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def database_file_identity(settings: Settings) -> FileIdentity | None:
    """The SQLite file the workers must write (created and migrated here, before they fork); None for PostgreSQL."""
    path = sqlite_file(settings.database_url)
    if path is None:
        return None
    try:
        open_store(settings).close()
    except SQLAlchemyError as exc:  # the workers retry and report it; they adopt the file once it exists
        log.warning("the database cannot be opened yet (%s)", describe(exc))
    return identity(path)


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """The multiprocess directory, empty, exported in ``PROMETHEUS_MULTIPROC_DIR`` for the workers."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="fasciculation-cds-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    owner = os.getpid()
    try:
        yield directory
    finally:
        if os.getpid() == owner:  # workers leave through here too (SystemExit after fork): only the master cleans
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(directory, ignore_errors=True)


def run_gunicorn(host: str, port: int, workers: int, allow_unauthenticated: bool = False) -> int:
    """Serve until stopped; returns the exit code (2: bad trusted-clients file, or unauthenticated public bind)."""
    settings = load_settings()
    try:
        configure_logging(settings.log_level, parse_log_format(settings.log_format))
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_REFUSED
    refusal = serve_refusal(host, settings, allow_unauthenticated) or prepare_session_key(os.environ)
    if refusal is not None:
        sys.stderr.write(f"error: {refusal}\n")
        return EXIT_REFUSED
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    ReadingThreadWorker.read_timeout_s = settings.request_read_timeout_s  # class settings, set before the fork
    ReadingThreadWorker.max_body_bytes = settings.max_body_bytes
    options = {
        "bind": bind,
        "workers": max(1, workers),
        "worker_class": ReadingThreadWorker,
        "threads": max(1, settings.worker_threads),
        "worker_connections": WORKER_CONNECTIONS,
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "keepalive": KEEPALIVE_S,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "logger_class": GunicornLogger,
        "pre_request": log_request_start,
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "control_socket_disable": True,
        "child_exit": _worker_exited,
        "worker_exit": _worker_closing,
    }
    shared = {"database_file_identity": database_file_identity(settings)}
    with metrics_directory():
        _GunicornApp(options, DrainState(), settings.drain_seconds, shared).run()
    return 0
