"""The SMART launch's real parts on loopback: the test authorization server, the Node FHIR engine holding a fixture
patient (it publishes the server's SMART configuration), and the app itself on a real socket."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import NOW as NOW
from tests.conftest import ROOT as ROOT
from tests.conftest import service_app
from tests.engine.fhir_engine_harness import FhirEngine, load_keeping_ids, start_engine
from tests.loopback import serve_app
from tests.workup.smart_server import SmartServerState, smart_server

PATIENT_ID = "magnesium-first"
TREND_BUNDLE = ROOT / "fixtures" / "workup" / "magnesium_trend.json"  # magnesium_first plus earlier results


def trend_bundle() -> dict[str, Any]:
    """The magnesium_first patient with a magnesium, potassium and calcium history (fixtures/build_workup_trend.py)."""
    bundle: dict[str, Any] = json.loads(TREND_BUNDLE.read_bytes())
    return bundle


@dataclass
class LaunchRig:
    """Everything a launch test touches."""

    smart: SmartServerState
    engine: FhirEngine
    app_url: str
    token: str


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchRig]:
    """Authorization server, FHIR engine (token-protected, holding the patient) and the app, all on 127.0.0.1."""
    token = secrets.token_urlsafe(24)
    workdir = tmp_path_factory.mktemp("workup")
    with smart_server(token) as smart:
        config = {
            "authorization_endpoint": f"{smart.base_url}/authorize",
            "token_endpoint": f"{smart.base_url}/token",
            "code_challenge_methods_supported": ["S256"],
            "capabilities": ["launch-ehr", "launch-standalone", "client-public", "context-ehr-patient"],
        }
        engine = start_engine(workdir, token=token, extra_args=["--smart-config", json.dumps(config)])
        try:
            load_keeping_ids(engine, trend_bundle())
            smart.fhir_base = engine.base_url
            settings = {"fhir_server_allowlist": engine.base_url, "workup_frame_ancestors": "'self' http://127.0.0.1:*"}
            with service_app(workdir, **settings) as app, serve_app(app) as app_url:
                yield LaunchRig(smart, engine, app_url, token)
        finally:
            engine.stop()


@pytest.fixture
def launch_rig(rig: LaunchRig) -> LaunchRig:
    """The rig with the authorization server back to its defaults (approve, true state, one-hour tokens)."""
    rig.smart.deny, rig.smart.tamper_state, rig.smart.expires_in = False, False, 3600
    rig.smart.access_token, rig.smart.standalone_patient = rig.token, None
    rig.smart.launches.clear()
    return rig
