"""Serving the app with gunicorn from inside the CLI (no separate config file to keep in step)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from service.config import load_settings
from service.logs import GunicornLogger, configure_logging, parse_log_format
from service.security import serve_refusal

EXIT_REFUSED = 2


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

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        """Copy our options into gunicorn's settings."""
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the WSGI app (once per worker, after fork)."""
        return worker_app()


def run_gunicorn(host: str, port: int, workers: int, allow_unauthenticated: bool = False) -> int:
    """Serve until stopped; returns the exit code (2: bad trusted-clients file, or unauthenticated public bind)."""
    settings = load_settings()
    try:
        configure_logging(settings.log_level, parse_log_format(settings.log_format))
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_REFUSED
    refusal = serve_refusal(host, settings, allow_unauthenticated)
    if refusal is not None:
        sys.stderr.write(f"error: {refusal}\n")
        return EXIT_REFUSED
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = {
        "bind": bind,
        "workers": max(1, workers),
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "logger_class": GunicornLogger,
        "limit_request_line": 8190,
    }
    _GunicornApp(options).run()
    return 0
