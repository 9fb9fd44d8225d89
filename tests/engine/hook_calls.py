"""Patient-view calls to the real app whose FHIR server is the engine, and the prefetch a CDS client would send."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from cds_hooks import FhirClient, render_template
from service.hooks import SERVICE_ID
from tests.conftest import HOOK_INSTANCE as HOOK_INSTANCE
from tests.conftest import hook_body as call_body
from tests.conftest import service_app
from tests.engine.engine_scenarios import NOW
from tests.engine.fhir_engine_harness import FhirEngine

SERVICE_PATH = f"/cds-services/{SERVICE_ID}"


@contextmanager
def engine_app(db_dir: Path, allowlist: str, **config: Any) -> Iterator[Flask]:
    """The real app (create_app) on a SQLite file, allowed to call ``allowlist``, with the clock fixed at NOW."""
    clock = config.pop("clock", lambda: NOW)
    with service_app(db_dir, fhir_server_allowlist=allowlist, clock=clock, **config) as app:
        yield app


def templates(app: Flask) -> dict[str, str]:
    """The patient-view prefetch templates the app announces in discovery."""
    services = app.test_client().get("/cds-services").get_json()["services"]
    prefetch: dict[str, str] = next(s["prefetch"] for s in services if s["id"] == SERVICE_ID)
    return prefetch


def client_prefetch(
    engine: FhirEngine, prefetch: Mapping[str, str], patient_id: str, keys: Iterable[str], first_page_size: int = 0
) -> dict[str, Any]:
    """What a CDS client sends: each template run against the engine (complete, or only a first page if asked)."""
    client = FhirClient(engine.base_url, engine.token)
    context = {"patientId": patient_id, "userId": "Practitioner/engine-tests"}
    sent: dict[str, Any] = {}
    for key in keys:
        url = render_template(prefetch[key], context)
        if first_page_size and "?" in url:
            sent[key] = client.get_json(url.replace("_count=200", f"_count={first_page_size}"))
        else:
            sent[key] = client.fetch(url)
    return sent


def hook_body(
    engine_base: str,
    patient_id: str,
    prefetch: Mapping[str, Any],
    token: str | None,
    hook_instance: str = HOOK_INSTANCE,
) -> dict[str, Any]:
    """A patient-view request naming the engine as fhirServer and lending ``token``."""
    context = {"userId": "Practitioner/engine-tests", "patientId": patient_id}
    body = call_body(hookInstance=hook_instance, fhirServer=engine_base, context=context, prefetch=dict(prefetch))
    if token is not None:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": SERVICE_ID,
        }
    return body


def call(app: Flask, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST the hook call; the status and the JSON answer."""
    rsp = app.test_client().post(SERVICE_PATH, json=dict(body))
    document: dict[str, Any] = rsp.get_json()
    return rsp.status_code, document


def new_hook_instance() -> str:
    """A fresh hookInstance (the store refuses to record the same one twice with other cards)."""
    return str(uuid.uuid4())
