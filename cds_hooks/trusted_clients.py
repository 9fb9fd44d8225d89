"""Trusted CDS clients (CDS Hooks 2.0 §Trusting CDS Clients): who they are, where their keys are, and the file
that lists them (validated at start-up: unknown keys, insecure key URLs and duplicate issuers are refused)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from cds_hooks.jwks import KeySet, parse_jwks
from cds_hooks.urls import is_loopback_host


@dataclass(frozen=True)
class TrustedClient:
    """A CDS client (EHR) whose tokens are accepted: its issuer, where its keys are, which ``jku`` may be used."""

    iss: str
    jwks_url: str | None = None
    jwks: KeySet | None = field(default=None, repr=False)
    jku: tuple[str, ...] = ()

    def allows_jku(self, url: str) -> bool:
        """A ``jku`` header is honoured only when listed (or equal to the configured ``jwks_url``)."""
        return url in self.jku or url == self.jwks_url


class TrustedClientsError(ValueError):
    """The trusted-clients file is missing, not JSON, or not valid; the service must not start."""


def _secure_url(url: str) -> None:
    # Keys fetched over plain http could be swapped in transit; http is tolerated on loopback only (tests, dev).
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return
    raise ValidationError("must be an https URL (http only on loopback)")


class _JwksSchema(Schema):
    class Meta:
        unknown = RAISE

    keys = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))


class _ClientSchema(Schema):
    class Meta:
        unknown = RAISE

    iss = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    jwks_url = fields.String(validate=_secure_url)
    jwks = fields.Nested(_JwksSchema)
    jku = fields.List(fields.String(validate=_secure_url))

    @validates_schema
    def _one_key_source(self, data: dict[str, Any], **_: Any) -> None:
        if ("jwks_url" in data) == ("jwks" in data):
            raise ValidationError("give exactly one of jwks_url and jwks", "jwks_url")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TrustedClient:
        keys = parse_jwks(data["jwks"]) if "jwks" in data else None
        if keys is not None and not keys:
            raise ValidationError("holds no usable public signing key with a kid", "jwks")
        return TrustedClient(data["iss"], data.get("jwks_url"), keys, tuple(data.get("jku", ())))


class _TrustedClientsSchema(Schema):
    class Meta:
        unknown = RAISE

    clients = fields.List(fields.Nested(_ClientSchema), required=True, validate=validate.Length(min=1))


_TRUSTED_CLIENTS_SCHEMA = _TrustedClientsSchema()


def load_trusted_clients(path: str | Path) -> tuple[TrustedClient, ...]:
    """Read and validate the trusted-clients JSON file (unknown keys rejected) or raise TrustedClientsError."""
    try:
        document = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise TrustedClientsError(f"trusted clients file {path}: cannot read JSON: {exc}") from exc
    try:
        clients: list[TrustedClient] = _TRUSTED_CLIENTS_SCHEMA.load(document)["clients"]
    except ValidationError as exc:
        raise TrustedClientsError(f"trusted clients file {path} is not valid: {exc.messages}") from exc
    issuers = [c.iss for c in clients]
    duplicates = sorted({i for i in issuers if issuers.count(i) > 1})
    if duplicates:
        raise TrustedClientsError(f"trusted clients file {path}: issuer listed twice: {', '.join(duplicates)}")
    return tuple(clients)
