"""A real ``fasciculation-cds serve`` for fault tests: JWT auth with a key made here, short database timeouts,
stderr kept in a file (a pipe nobody reads could block the server), signals sent to the gunicorn master.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.conftest import ROOT
from tests.serving import serve_process
from tests.tokens import SigningKey, claims, new_key, sign, trusted_clients

SERVICE_ID = "fasciculation-reversible-causes"
ISSUER = "https://ehr.fault-test.example"
REQUESTS_DIR = ROOT / "fixtures" / "requests" / "patient-view"
FAST_DATABASE = {"CDS_DATABASE_TIMEOUT_S": "1", "CDS_DATABASE_RETRY_S": "0.5"}


@dataclass(frozen=True)
class Signer:
    """An ES384 key the served instance trusts (its public half is in the trusted-clients file)."""

    key: SigningKey

    def token(self, audience: str, jti: str | None = None) -> str:
        """A fresh, valid bearer token for ``audience``."""
        return sign(self.key, claims(ISSUER, audience, **({"jti": jti} if jti else {})))

    def trusted_clients(self, directory: Path) -> Path:
        """Write the trusted-clients file naming this key; returns its path."""
        path = directory / "trusted-clients.json"
        path.write_text(json.dumps(trusted_clients(ISSUER, self.key)))
        return path


def new_signer() -> Signer:
    """A signer with a freshly generated P-384 key."""
    return Signer(new_key("ES384", "fault-key"))


def hook_bodies() -> list[bytes]:
    """Every patient-view request fixture (all prefetch complete: no FHIR server involved)."""
    return [path.read_bytes() for path in sorted(REQUESTS_DIR.glob("*.json"))]


def feedback_item(**overrides: Any) -> dict[str, Any]:
    """An overridden-card feedback item, with overrides."""
    item: dict[str, Any] = {
        "card": "0f6b1a60-55ee-4d53-8d7e-6f7a2e8c6c11",
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "already-ordered", "system": "http://example.org/reasons"}},
        "outcomeTimestamp": "2026-11-20T12:00:00Z",
    }
    item.update(overrides)
    return item


def feedback_items(count: int = 2) -> list[dict[str, Any]]:
    """Override feedback on cards nobody issued (stored anyway, flagged unknown)."""
    return [feedback_item(card=str(uuid.uuid4())) for _ in range(count)]


@dataclass
class Instance:
    """A running ``serve``: its base URL, the master process, its log file and its signer (if auth is on)."""

    base: str
    process: subprocess.Popen[bytes]
    log_path: Path
    signer: Signer | None

    @property
    def call_url(self) -> str:
        """The hook endpoint of the service."""
        return f"{self.base}/cds-services/{SERVICE_ID}"

    def headers(self, url: str, jti: str | None = None) -> dict[str, str]:
        """Content type plus, with auth on, a fresh bearer token for ``url``."""
        headers = {"Content-Type": "application/json"}
        if self.signer is not None:
            headers["Authorization"] = f"Bearer {self.signer.token(url, jti)}"
        return headers

    def call(self, body: bytes, timeout: float = 15, jti: str | None = None) -> requests.Response:
        """POST one hook call."""
        return requests.post(self.call_url, data=body, headers=self.headers(self.call_url, jti), timeout=timeout)

    def feedback(self, items: list[dict[str, Any]], timeout: float = 15) -> requests.Response:
        """POST feedback items."""
        url = f"{self.call_url}/feedback"
        return requests.post(url, json={"feedback": items}, headers=self.headers(url), timeout=timeout)

    def log(self) -> str:
        """Everything the instance wrote to stderr so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def serve(
    database_url: str,
    workdir: Path,
    workers: int = 2,
    signer: Signer | None = None,
    env: Mapping[str, str] | None = None,
    source_root: Path = ROOT,
) -> Iterator[Instance]:
    """``python -m service.cli serve`` on a free loopback port, stderr in a file; stopped (SIGTERM, then SIGKILL)."""
    settings = dict(env or {})
    if signer is not None:
        settings["CDS_TRUSTED_CLIENTS"] = str(signer.trusted_clients(workdir))
    log_path = workdir / f"serve-{uuid.uuid4().hex[:8]}.log"
    options = {"workers": workers, "settings": settings, "log_path": log_path, "source_root": source_root}
    with serve_process(database_url, workdir, **options) as (process, base):
        yield Instance(base, process, log_path, signer)
