"""One deadline per hook call: a FHIR server that drips, stalls or never ends its answer costs 412, not a worker.

Before the deadline watch, the read timeout bounded each socket read only: a body sent a byte a second held a call
for as long as the peer liked. The margins below are generous (a loaded CI machine); what they check is that the
call ends near its budget instead of near the peer's whim.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from cds_hooks import FhirClient, FhirClientSettings
from cds_hooks.errors import FhirBadResponse, FhirTimeout
from cds_hooks.fhir_client import cookieless_session
from service.hooks import SERVICE_ID
from tests.conftest import ROOT
from tests.loopback import Answer, HostileFhir, Misbehaviour, hostile_fhir, loopback_fhir
from tests.serving import served

BUDGET_S = 1.0
SERVED_BUDGET_S = 4.0
MARGIN_S = 3.0
REQUEST = ROOT / "fixtures" / "requests" / "patient-view" / "neuropathy_low_magnesium.json"


@pytest.mark.parametrize("misbehaviour", list(Misbehaviour))
def test_the_client_gives_up_at_the_budget_whatever_the_peer_does(misbehaviour: Misbehaviour) -> None:
    settings = FhirClientSettings(connect_timeout_s=1.0, read_timeout_s=5.0, total_timeout_s=BUDGET_S)
    with hostile_fhir(misbehaviour) as fhir:
        client = FhirClient(fhir.base_url, "a-token", settings=settings)
        started = time.monotonic()
        with pytest.raises(FhirTimeout):
            client.fetch("Observation?patient=Patient/p1")
        elapsed = time.monotonic() - started
        assert fhir.requests_seen == 1
    assert elapsed < BUDGET_S + MARGIN_S, f"{misbehaviour}: {elapsed:.1f} s for a {BUDGET_S} s budget"


def test_an_endless_body_is_cut_at_the_size_cap_before_the_budget() -> None:
    settings = FhirClientSettings(read_timeout_s=5.0, total_timeout_s=30.0, max_response_bytes=200_000)
    with hostile_fhir(Misbehaviour.ENDLESS) as fhir:
        with pytest.raises(FhirBadResponse, match="larger than the configured limit"):
            FhirClient(fhir.base_url, settings=settings).fetch("Observation?patient=Patient/p1")


def test_an_honest_server_after_a_hostile_one_is_read_normally() -> None:
    """The session's pool survives a connection shut down by the watch: the next call on a good server works."""
    settings = FhirClientSettings(read_timeout_s=5.0, total_timeout_s=BUDGET_S)
    session = cookieless_session()
    with hostile_fhir(Misbehaviour.STALL) as fhir:
        with pytest.raises(FhirTimeout):
            FhirClient(fhir.base_url, settings=settings, session=session).fetch("Patient/p1")
        fhir.misbehaviour = Misbehaviour.DRIP_BODY
        with pytest.raises(FhirTimeout):
            FhirClient(fhir.base_url, settings=settings, session=session).fetch("Patient/p1")
    with loopback_fhir() as good:
        good.route("Patient/p1", Answer({"resourceType": "Patient", "id": "p1"}))
        assert FhirClient(good.base_url, settings=settings, session=session).fetch("Patient/p1")["id"] == "p1"


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``serve`` with three workers and a short FHIR budget."""
    db = tmp_path_factory.mktemp("deadline") / "cds.sqlite3"
    settings = {"CDS_FHIR_TOTAL_TIMEOUT_S": str(SERVED_BUDGET_S)}
    with served(f"sqlite:///{db}", tmp_path_factory.mktemp("cwd"), workers=3, settings=settings) as base:
        yield base


def _call(base: str, body: dict[str, Any]) -> tuple[int, float]:
    started = time.monotonic()
    rsp = requests.post(f"{base}/cds-services/{SERVICE_ID}", json=body, timeout=60)
    return rsp.status_code, time.monotonic() - started


def _fall_back_body(fhir: HostileFhir) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(REQUEST.read_text())
    body.pop("prefetch", None)
    body["fhirServer"] = fhir.base_url
    return body


@pytest.mark.parametrize("misbehaviour", list(Misbehaviour))
def test_hostile_fhir_servers_cost_two_calls_412_and_block_no_one(served_app: str, misbehaviour: Misbehaviour) -> None:
    """Two concurrent calls to a hostile server each end in 412 near the budget; an ordinary call gets its cards."""
    with hostile_fhir(misbehaviour) as fhir, ThreadPoolExecutor(max_workers=2) as pool:
        slow = [pool.submit(_call, served_app, _fall_back_body(fhir)) for _ in range(2)]
        time.sleep(0.3)
        ordinary_status, _ = _call(served_app, json.loads(REQUEST.read_text()))
        ordinary_done_first = not any(future.done() for future in slow)
        results = [future.result() for future in slow]
    assert ordinary_status == 200
    assert ordinary_done_first
    for status, elapsed in results:
        assert status == 412
        assert elapsed < SERVED_BUDGET_S + MARGIN_S, f"{misbehaviour}: {elapsed:.1f} s for a {SERVED_BUDGET_S} s budget"
