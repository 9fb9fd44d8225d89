"""Settings: embedded defaults, overridden by ``CDS_*`` environment variables (documented in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from cds_hooks.fhir_client import FhirClientSettings

DEFAULT_DATABASE_PATH = Path("var") / "fasciculation-cds.sqlite3"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
# In development mode (no trusted clients) only loopback FHIR servers and the public test sandboxes are called.
DEVELOPMENT_FHIR_ALLOWLIST = (
    "http://127.0.0.1,http://localhost,http://[::1],"
    "https://hapi.fhir.org/baseR4,https://r4.smarthealthit.org,https://launch.smarthealthit.org"
)


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment."""

    database_url: str = f"sqlite:///{DEFAULT_DATABASE_PATH}"
    trusted_clients_file: str | None = None
    fhir_server_allowlist: str | None = None
    public_url: str | None = None
    cors_origins: str = "*"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    fhir_connect_timeout_s: float = 2.0
    fhir_read_timeout_s: float = 5.0
    fhir_max_pages: int = 10
    fhir_total_timeout_s: float = 8.0
    discovery_requires_auth: bool = False
    patient_hash_key: str | None = None
    database_timeout_s: float = 5.0
    database_retry_s: float = 2.0
    card_queue_max: int = 1000
    retention_days: int = 365
    drain_seconds: float = 10.0
    worker_threads: int = 4
    request_read_timeout_s: float = 10.0
    log_level: str = "INFO"
    log_format: str = "text"

    @property
    def auth_enabled(self) -> bool:
        """JWT client authentication is on once trusted clients are configured."""
        return bool(self.trusted_clients_file)

    @property
    def effective_fhir_allowlist(self) -> str:
        """The allow-list in force: as configured, else the development default (empty once auth is on)."""
        if self.fhir_server_allowlist is not None:
            return self.fhir_server_allowlist
        return "" if self.auth_enabled else DEVELOPMENT_FHIR_ALLOWLIST


_ENV_PREFIX = "CDS_"
# Documented names that differ from CDS_<FIELD> (the field-derived name is still read as a fallback).
_ENV_NAMES = {"trusted_clients_file": "CDS_TRUSTED_CLIENTS"}


def _convert(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then ``CDS_<FIELD>`` variables, then explicit overrides (used by tests and the CLI)."""
    env = os.environ if environ is None else environ
    settings = Settings()
    values: dict[str, Any] = {}
    for item in fields(Settings):
        name = _ENV_NAMES.get(item.name, _ENV_PREFIX + item.name.upper())
        raw = env.get(name) or env.get(_ENV_PREFIX + item.name.upper())
        if raw is not None and raw != "":
            try:
                values[item.name] = _convert(raw, getattr(settings, item.name))
            except ValueError as exc:
                raise ValueError(f"{name} is not valid: {exc}") from exc
    values.update(overrides or {})
    return replace(settings, **values)


def fhir_client_settings(settings: Settings) -> FhirClientSettings:
    """Limits for every call to a FHIR server, from the settings."""
    return FhirClientSettings(
        connect_timeout_s=settings.fhir_connect_timeout_s,
        read_timeout_s=settings.fhir_read_timeout_s,
        max_pages=settings.fhir_max_pages,
        total_timeout_s=settings.fhir_total_timeout_s,
    )
