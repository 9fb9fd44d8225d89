"""Settings: embedded defaults, overridden by ``CDS_*`` environment variables (documented in the README).

``Settings`` is declared once, as a pydantic dataclass: every field's type, default and bounds are here, and the
FHIR limits default to the toolkit's own (``cds_hooks.FhirClientSettings``) instead of being typed again. A bad
value is a ``SettingsError`` with one line naming the variable (``service/settings_types.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass

from cds_hooks.fhir_client import FhirClientSettings
from service.settings_types import DatabaseUrl, Flag, LogLevel, TimeZoneName, one_line

DEFAULT_DATABASE_PATH = Path("var") / "fasciculation-cds.sqlite3"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
# In development mode (no trusted clients) only loopback FHIR servers and the public test sandboxes are called.
DEVELOPMENT_FHIR_ALLOWLIST = (
    "http://127.0.0.1,http://localhost,http://[::1],"
    "https://hapi.fhir.org/baseR4,https://r4.smarthealthit.org,https://launch.smarthealthit.org"
)
_FHIR = FhirClientSettings()  # the toolkit's defaults for every FHIR call


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment."""

    database_url: DatabaseUrl = f"sqlite:///{DEFAULT_DATABASE_PATH}"
    trusted_clients_file: str | None = None
    fhir_server_allowlist: str | None = None
    public_url: str | None = None
    accepted_audiences: str = ""  # further public base URLs a client's JWT ``aud`` may name, comma-separated
    cors_origins: str = "*"
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024**3)] = DEFAULT_MAX_BODY_BYTES
    fhir_connect_timeout_s: Annotated[float, Field(gt=0, le=60)] = _FHIR.connect_timeout_s
    fhir_read_timeout_s: Annotated[float, Field(gt=0, le=300)] = _FHIR.read_timeout_s
    fhir_max_pages: Annotated[int, Field(ge=1, le=1000)] = _FHIR.max_pages
    fhir_total_timeout_s: Annotated[float, Field(gt=0, le=600)] = _FHIR.total_timeout_s
    discovery_requires_auth: Flag = False
    patient_hash_key: str | None = None
    database_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    database_retry_s: Annotated[float, Field(ge=0, le=3600)] = 2.0
    card_queue_max: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    retention_days: Annotated[int, Field(ge=0, le=36500)] = 365  # 0: issued cards and feedback are kept for ever
    drain_seconds: Annotated[float, Field(ge=0, le=3600)] = 10.0
    worker_threads: Annotated[int, Field(ge=1, le=256)] = 4
    request_read_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = "text"
    timezone: TimeZoneName = "UTC"  # CDS_TIMEZONE: the zone "today", "yesterday" and "N days ago" are counted in

    @property
    def auth_enabled(self) -> bool:
        """JWT client authentication is on once trusted clients are configured."""
        return bool(self.trusted_clients_file)

    @property
    def audience_bases(self) -> tuple[str, ...]:
        """The public base URLs a JWT ``aud`` may name: CDS_PUBLIC_URL, then CDS_ACCEPTED_AUDIENCES."""
        extra = (u.strip() for u in self.accepted_audiences.split(","))
        return tuple(dict.fromkeys(u for u in (self.public_url, *extra) if u))

    @property
    def effective_fhir_allowlist(self) -> str:
        """The allow-list in force: as configured, else the development default (empty once auth is on)."""
        if self.fhir_server_allowlist is not None:
            return self.fhir_server_allowlist
        return "" if self.auth_enabled else DEVELOPMENT_FHIR_ALLOWLIST


_ENV_PREFIX = "CDS_"
# Documented names that differ from CDS_<FIELD> (the field-derived name is still read as a fallback).
_ENV_NAMES = {"trusted_clients_file": "CDS_TRUSTED_CLIENTS"}


def variable_names() -> dict[str, str]:
    """Field name -> the environment variable documented for it."""
    return {item.name: _ENV_NAMES.get(item.name, _ENV_PREFIX + item.name.upper()) for item in fields(Settings)}


def environment_names() -> frozenset[str]:
    """Every environment variable the service reads (``Settings``, the work-up view's, and the metrics directory)."""
    from service.workup.config import workup_variable_names

    names = set(variable_names().values()) | set(workup_variable_names().values())
    return frozenset(names | {"PROMETHEUS_MULTIPROC_DIR"})


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then ``CDS_<FIELD>`` variables, then explicit overrides; SettingsError (one line) on a bad value."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field_name, name in variable_names().items():
        raw = env.get(name) or env.get(_ENV_PREFIX + field_name.upper())
        if raw is not None and raw != "":
            values[field_name] = raw
    try:
        from_environment = Settings(**values)
        return replace(from_environment, **dict(overrides or {}))
    except ValidationError as exc:
        raise one_line(exc, variable_names()) from None


def fhir_client_settings(settings: Settings) -> FhirClientSettings:
    """Limits for every call to a FHIR server, from the settings."""
    return FhirClientSettings(
        connect_timeout_s=settings.fhir_connect_timeout_s,
        read_timeout_s=settings.fhir_read_timeout_s,
        max_pages=settings.fhir_max_pages,
        total_timeout_s=settings.fhir_total_timeout_s,
    )
