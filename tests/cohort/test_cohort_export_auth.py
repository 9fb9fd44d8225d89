"""A live $export with SMART Backend Services (client_credentials + private_key_jwt), and Ctrl-C cancelling the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask, request

from tests.cohort.conftest import NOW, ROOT, SCENARIOS, responses, run_cli
from tests.engine.fhir_engine_harness import FhirEngine, load_keeping_ids, start_engine
from tests.loopback import serve_app
from tests.tokens import new_key

TOKEN = "backend-services-token"
CLIENT_ID = "cohort-client"
KID = "cohort-key-1"


def _token_app(key: Any, seen: list[dict[str, Any]]) -> Flask:
    """A token endpoint that checks the client assertion against the client's public key."""
    app = Flask("token")

    @app.post("/token")
    def token() -> Any:
        assertion = request.form["client_assertion"]
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, key.private.public_key(), algorithms=[header["alg"]], audience=request.url)
        seen.append({"header": header, "claims": claims, "form": dict(request.form)})
        if claims["iss"] != CLIENT_ID or claims["sub"] != CLIENT_ID or header["kid"] != KID:
            return {"error": "invalid_client"}, 401
        return {"access_token": TOKEN, "token_type": "bearer", "expires_in": 300, "scope": request.form["scope"]}

    return app


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FhirEngine, Path, list[dict[str, Any]]]]:
    """An engine whose SMART configuration names a loopback token endpoint; two scenario patients loaded."""
    folder = tmp_path_factory.mktemp("backend")
    key = new_key("ES384", KID)
    pem = folder / "client.pem"
    pem.write_bytes(
        key.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    seen: list[dict[str, Any]] = []
    with serve_app(_token_app(key, seen)) as token_base:
        config = json.dumps({"token_endpoint": f"{token_base}/token", "grant_types_supported": ["client_credentials"]})
        engine = start_engine(folder, TOKEN, ["--smart-config", config, "--export-polls", "1"])
        try:
            for name in ("magnesium_first.json", "lithium_no_level.json"):
                load_keeping_ids(engine, json.loads((SCENARIOS / name).read_bytes()))
            yield engine, pem, seen
        finally:
            engine.stop()


def test_backend_services_export(backend: tuple[FhirEngine, Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    engine, pem, seen = backend
    args = ["--input", engine.base_url, "--out", str(tmp_path), "--now", NOW, "--client-id", CLIENT_ID]
    assert run_cli(*args, "--private-key", str(pem), "--key-id", KID, "--export-level", "system") == 0
    assert sorted(responses(tmp_path)) == ["lithium-no-level", "magnesium-first"]
    assert seen and seen[0]["header"]["alg"] == "ES384"
    assert seen[0]["form"]["grant_type"] == "client_credentials"
    assert seen[0]["form"]["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert seen[0]["claims"]["exp"] - seen[0]["claims"]["iat"] <= 300


def test_server_off_the_allow_list_is_refused(
    backend: tuple[FhirEngine, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_FHIR_SERVER_ALLOWLIST", "https://fhir.example.org")
    args = ["--input", backend[0].base_url, "--out", str(tmp_path), "--now", NOW, "--token", TOKEN]
    assert run_cli(*args) == 2
    assert not (tmp_path / "export").exists()


def test_ctrl_c_cancels_the_export(tmp_path: Path) -> None:
    """SIGINT while polling: the job is deleted on the server (DELETE on its status URL) and the exit status is 130."""
    engine = start_engine(tmp_path, TOKEN, ["--export-polls", "1000"])
    try:
        command = [
            sys.executable,
            "-m",
            "service.cli",
            "cohort",
            "--input",
            engine.base_url,
            "--out",
            str(tmp_path / "o"),
            "--token",
            TOKEN,
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while "export in progress" not in process.stderr.readline():
            assert time.monotonic() < deadline and process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        process.stderr.close()
        log = engine.log_path.read_text()
        assert "DELETE /fhir/R4/$export-status/" in log and " 202 " in log.split("DELETE", 1)[1]
    finally:
        engine.stop()
