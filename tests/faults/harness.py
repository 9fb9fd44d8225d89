"""A real ``fasciculation-cds serve`` for fault tests: JWT auth with a key made here, short database timeouts,
stderr kept in a file (a pipe nobody reads could block the server), signals sent to the gunicorn master.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.serving import ROOT, free_port

SERVICE_ID = "fasciculation-reversible-causes"
ISSUER = "https://ehr.fault-test.example"
REQUESTS_DIR = ROOT / "fixtures" / "requests" / "patient-view"
START_TIMEOUT_S = 30
FAST_DATABASE = {"CDS_DATABASE_TIMEOUT_S": "1", "CDS_DATABASE_RETRY_S": "0.5"}


@dataclass(frozen=True)
class Signer:
    """An ES384 key the served instance trusts (its public half is in the trusted-clients file)."""

    private: Any
    kid: str = "fault-key"

    def token(self, audience: str, jti: str | None = None) -> str:
        """A fresh, valid bearer token for ``audience``."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": jti or str(uuid.uuid4())}
        return jwt.encode(claims, self.private, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})

    def trusted_clients(self, directory: Path) -> Path:
        """Write the trusted-clients file naming this key; returns its path."""
        jwk = {**json.loads(ECAlgorithm.to_jwk(self.private.public_key())), "kid": self.kid, "alg": "ES384"}
        path = directory / "trusted-clients.json"
        path.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks": {"keys": [jwk]}}]}))
        return path


def new_signer() -> Signer:
    """A signer with a freshly generated P-384 key."""
    return Signer(ec.generate_private_key(ec.SECP384R1()))


def hook_bodies() -> list[bytes]:
    """Every patient-view request fixture (all prefetch complete: no FHIR server involved)."""
    return [path.read_bytes() for path in sorted(REQUESTS_DIR.glob("*.json"))]


def feedback_items(count: int = 2) -> list[dict[str, Any]]:
    """Override feedback on cards nobody issued (stored anyway, flagged unknown)."""
    return [
        {
            "card": str(uuid.uuid4()),
            "outcome": "overridden",
            "outcomeTimestamp": "2025-03-01T12:00:00Z",
            "overrideReason": {"reason": {"code": "not-relevant", "system": "http://example.org/override"}},
        }
        for _ in range(count)
    ]


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


def _wait_until_up(instance: Instance) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if requests.get(f"{instance.base}/cds-services", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if instance.process.poll() is not None or time.monotonic() > deadline:
            instance.process.kill()
            raise AssertionError(f"serve did not start: {instance.log()[-2000:]}")
        time.sleep(0.2)


@contextmanager
def serve(
    database_url: str,
    workdir: Path,
    workers: int = 2,
    signer: Signer | None = None,
    env: Mapping[str, str] | None = None,
    source_root: Path = ROOT,
) -> Iterator[Instance]:
    """``python -m service.cli serve`` on a free loopback port; stopped (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CDS_", "PROMETHEUS_"))}
    environment.update({"CDS_DATABASE_URL": database_url, "PYTHONPATH": str(source_root), "CDS_DRAIN_SECONDS": "0"})
    environment.update(env or {})
    if signer is not None:
        environment["CDS_TRUSTED_CLIENTS"] = str(signer.trusted_clients(workdir))
    log_path = workdir / f"serve-{port}.log"
    args = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*args, "--workers", str(workers)], cwd=workdir, env=environment, stdout=log_file, stderr=log_file
        )
    instance = Instance(f"http://127.0.0.1:{port}", process, log_path, signer)
    try:
        _wait_until_up(instance)
        yield instance
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
