"""Settings of the work-up view: ``CDS_WORKUP_*`` environment variables, overridable by ``workup_*`` app config."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from service.workup.page import DEFAULT_WINDOW_DAYS

_PREFIX = "workup_"


@dataclass(frozen=True)
class WorkupSettings:
    """What the SMART app and the card links read from the environment."""

    links: bool = True  # each card gets a SMART link to the app; off for EHRs that do not launch SMART apps
    client_id: str = "fasciculation-cds-workup"
    frame_ancestors: str = "'self'"
    window_days: int = DEFAULT_WINDOW_DAYS
    session_ttl_s: int = 3600
    standalone_iss: str | None = None
    launch_limit: int = 20  # launches per client address (IPv6: per /64) and window; 0 switches the limit off
    launch_window_s: int = 60
    launch_table_size: int = 10000  # addresses remembered per worker (the oldest are forgotten first)
    # Fernet key(s) sealing sessions at rest (comma-separated, newest first); unset: one made at start-up.
    session_key: str | None = field(default=None, repr=False)


def _convert(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return int(raw) if isinstance(default, int) else raw


def load_workup_settings(
    environ: Mapping[str, str] | None = None, overrides: MutableMapping[str, Any] | None = None
) -> WorkupSettings:
    """Defaults, then ``CDS_WORKUP_<FIELD>``, then ``workup_<field>`` keys popped from ``overrides``."""
    env = os.environ if environ is None else environ
    settings, values = WorkupSettings(), {}
    for item in fields(WorkupSettings):
        name = f"CDS_WORKUP_{item.name.upper()}"
        raw = env.get(name)
        if raw:
            try:
                values[item.name] = _convert(raw, getattr(settings, item.name))
            except ValueError as exc:
                raise ValueError(f"{name} is not valid: {exc}") from exc
        if overrides is not None and _PREFIX + item.name in overrides:
            values[item.name] = overrides.pop(_PREFIX + item.name)
    return replace(settings, **values)
