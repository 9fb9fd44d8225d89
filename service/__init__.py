"""fasciculation-cds: the CDS Hooks service that looks for reversible causes of fasciculations."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.app import CARD_WRITER_KEY, CLOSERS_KEY, STORE_KEY, close_app, create_app

# The app factory pulls in Flask, SQLAlchemy, PyJWT, Jinja and pygal: loaded on first use, so the CLI's
# ``evaluate`` (which needs none of them) starts quickly.
__all__ = ["CARD_WRITER_KEY", "CLOSERS_KEY", "STORE_KEY", "close_app", "create_app"]


def __getattr__(name: str) -> Any:
    """``from service import create_app`` (and the other app names) imports ``service.app`` on first use."""
    if name in __all__:
        return getattr(importlib.import_module("service.app"), name)
    raise AttributeError(f"module 'service' has no attribute {name!r}")
