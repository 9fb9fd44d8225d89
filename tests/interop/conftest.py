"""The CDS Hooks Sandbox as the client: its captured requests, tokens shaped like its own, the real app on loopback.

The app runs with JWT checking on (the trusted-clients file trusts the Sandbox's issuer with a key inline) and
without any network: a guard refuses, and records, every connection that is not to 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from service.hooks import SERVICE_IDS
from tests.conftest import ROOT as ROOT
from tests.conftest import service_app
from tests.loopback import serve_app
from tests.tokens import SigningKey, claims, new_key, sign
from tests.tokens import trusted_clients as trusted_clients_document

SANDBOX = ROOT / "fixtures" / "cds-hooks-sandbox"
TIMEOUT_S = 10


def sandbox_json(name: str) -> dict[str, Any]:
    """One captured file of fixtures/cds-hooks-sandbox/, exactly as the Sandbox sent it."""
    document: dict[str, Any] = json.loads((SANDBOX / name).read_text(encoding="utf-8"))
    return document


CAPTURED_TOKEN = sandbox_json("jwt-header-and-claims.json")
# The clinical "now" of the replay: the instant the Sandbox signed its token (the fixtures' ages are relative to it).
CAPTURED_NOW = dt.datetime.fromtimestamp(CAPTURED_TOKEN["claims"]["iat"], dt.UTC)
SANDBOX_ISSUER: str = CAPTURED_TOKEN["claims"]["iss"]
SANDBOX_KID: str = CAPTURED_TOKEN["header"]["kid"]
SANDBOX_JKU: str = CAPTURED_TOKEN["header"]["jku"]
SANDBOX_LIFETIME_S: int = CAPTURED_TOKEN["claims"]["exp"] - CAPTURED_TOKEN["claims"]["iat"]


@dataclass(frozen=True)
class SandboxSigner:
    """Signs tokens exactly like the Sandbox (ES384, its kid and jku, 5-minute lifetime) with a test key."""

    key: SigningKey

    def public_jwk(self, kid: str = SANDBOX_KID) -> dict[str, Any]:
        """The public half as a JWK, under the Sandbox's kid."""
        return self.key.public_jwk(kid)

    def token(self, audience: str, kid: str = SANDBOX_KID, jku: str = SANDBOX_JKU) -> str:
        """A fresh Sandbox-shaped token for ``audience`` (the URL called)."""
        return sign(self.key, claims(SANDBOX_ISSUER, audience, SANDBOX_LIFETIME_S), kid=kid, jku=jku)


@pytest.fixture(scope="session")
def signer() -> SandboxSigner:
    """A fresh P-384 key standing in for the Sandbox's private key."""
    return SandboxSigner(new_key("ES384", SANDBOX_KID))


@dataclass
class NetworkGuard:
    """Every connection attempt to anything but 127.0.0.1, refused and recorded."""

    refused: list[str] = field(default_factory=list)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Refuse (and record) name lookups and connections that leave the loopback interface."""
    guard = NetworkGuard()
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            guard.refused.append(f"connect {address!r}")
            raise OSError("network refused by the test guard")
        real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", None):
            guard.refused.append(f"resolve {host!r}")
            raise socket.gaierror("name resolution refused by the test guard")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield guard
    assert guard.refused == [], "the replay must not touch the network"


PUBLIC_URL = "https://cds.sandbox-replay.example"
# The Sandbox posts an object body with axios (its service-exchange.js): axios 0.x sends this, 1.x application/json.
SANDBOX_CONTENT_TYPE = "application/json;charset=utf-8"


@dataclass(frozen=True)
class ServedApp:
    """The real app behind a loopback socket, and a Sandbox-like way to call it."""

    base: str
    app: Flask
    signer: SandboxSigner
    public: str = PUBLIC_URL  # the URL the Sandbox is configured with; tokens name it, never the socket's Host

    def url(self, hook: str, feedback: bool = False) -> str:
        """The URL of the service answering ``hook`` (or of its feedback endpoint)."""
        return f"{self.base}/cds-services/{SERVICE_IDS[hook]}" + ("/feedback" if feedback else "")

    def audience(self, url: str) -> str:
        """What a token for ``url`` names as ``aud``: the same path under the configured public URL."""
        return self.public + url.removeprefix(self.base)

    def post(self, url: str, body: dict[str, Any], token: str | None = None) -> requests.Response:
        """POST as the Sandbox does: JSON body, Bearer token signed for exactly this URL (unless given)."""
        headers = {
            "Authorization": f"Bearer {token or self.signer.token(self.audience(url))}",
            "Content-Type": SANDBOX_CONTENT_TYPE,
            "Accept": "application/json",
        }
        return requests.post(url, data=json.dumps(body), headers=headers, timeout=TIMEOUT_S)


def trusted_clients(signer: SandboxSigner) -> dict[str, Any]:
    """docs/security.md's offline recipe, with the test key in place of the Sandbox's public key."""
    return trusted_clients_document(SANDBOX_ISSUER, signer.key)


@pytest.fixture
def served(tmp_path: Path, signer: SandboxSigner, no_network: NetworkGuard) -> Iterator[ServedApp]:
    """The app with JWT checking on (Sandbox trusted inline), a fresh SQLite store, the capture's clinical now."""
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps(trusted_clients(signer)), encoding="utf-8")
    settings = {"trusted_clients_file": str(clients), "public_url": PUBLIC_URL}
    with service_app(tmp_path, clock=lambda: CAPTURED_NOW, **settings) as app:
        with serve_app(app) as base:
            yield ServedApp(base, app, signer)
