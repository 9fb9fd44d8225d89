"""Settings of the work-up view: ``CDS_WORKUP_*`` environment variables, overridable by ``workup_*`` app config.

Declared once like the main settings (a pydantic dataclass: type, default and bounds per field); a bad value is a
one-line ``SettingsError`` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import field, fields, replace
from typing import Annotated, Any

from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass

from service.settings_types import Flag, one_line

_PREFIX = "workup_"
DEFAULT_WINDOW_DAYS = 730  # the charts' window (days) in the work-up view


@dataclass(frozen=True)
class WorkupSettings:
    """What the SMART app and the card links read from the environment."""

    links: Flag = True  # each card gets a SMART link to the app; off for EHRs that do not launch SMART apps
    client_id: Annotated[str, Field(min_length=1)] = "fasciculation-cds-workup"
    frame_ancestors: Annotated[str, Field(min_length=1)] = "'self'"
    window_days: Annotated[int, Field(ge=1, le=36500)] = DEFAULT_WINDOW_DAYS
    session_ttl_s: Annotated[int, Field(ge=60, le=86400)] = 3600
    standalone_iss: str | None = None
    # Launches per client address (IPv6: per /64) per window; 0 switches the limit off (issue 23 row 8).
    launch_limit: Annotated[int, Field(ge=0, le=100000)] = 20
    launch_window_s: Annotated[int, Field(ge=1, le=86400)] = 60
    launch_table_size: Annotated[int, Field(ge=1, le=10_000_000)] = 10000  # addresses per worker, oldest go first
    # Fernet key(s) sealing sessions at rest (comma-separated, newest first); unset: one made at start-up.
    session_key: str | None = field(default=None, repr=False)


def workup_variable_names() -> dict[str, str]:
    """Field name -> its environment variable."""
    return {item.name: f"CDS_WORKUP_{item.name.upper()}" for item in fields(WorkupSettings)}


def load_workup_settings(
    environ: Mapping[str, str] | None = None, overrides: MutableMapping[str, Any] | None = None
) -> WorkupSettings:
    """Defaults, then ``CDS_WORKUP_<FIELD>``, then ``workup_<field>`` keys popped from ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    for field_name, name in workup_variable_names().items():
        raw = env.get(name)
        if raw:
            values[field_name] = raw
        if overrides is not None and _PREFIX + field_name in overrides:
            changes[field_name] = overrides.pop(_PREFIX + field_name)
    try:
        return replace(WorkupSettings(**values), **changes)
    except ValidationError as exc:
        raise one_line(exc, workup_variable_names()) from None
