"""FhirClient and PrefetchResolver against the engine: read, search, paging, 404 -> 412, OperationOutcome, token."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import requests

from cds_hooks import (
    FhirAuthorization,
    FhirClient,
    FhirClientSettings,
    HookRequest,
    PreconditionFailed,
    PrefetchResolver,
)
from cds_hooks.errors import FhirBadResponse, FhirHttpError
from tests.engine.conftest import ENGINE_TOKEN
from tests.engine.fhir_engine_harness import FhirEngine, LoadedPatient

CALCIUM = "http://loinc.org|49765-1"


def client(engine: FhirEngine, token: str | None = ENGINE_TOKEN, max_pages: int = 10) -> FhirClient:
    """A client for the engine with the session token (or another one)."""
    return FhirClient(engine.base_url, token, settings=FhirClientSettings(max_pages=max_pages))


def calcium_ids(engine: FhirEngine, patient: LoadedPatient) -> list[str]:
    """The patient's calcium Observation ids, read in one large page with plain requests."""
    rsp = requests.get(
        f"{engine.base_url}/Observation",
        params={"patient": f"Patient/{patient.patient_id}", "code": CALCIUM, "_count": "1000"},
        headers=engine.headers(),
        timeout=10,
    )
    rsp.raise_for_status()
    return [e["resource"]["id"] for e in rsp.json()["entry"]]


def entry_ids(bundle: dict[str, Any]) -> list[str]:
    """The ids of a Bundle's entries, in order."""
    return [e["resource"]["id"] for e in bundle.get("entry") or []]


def test_read_returns_the_stored_patient(engine: FhirEngine, patient: LoadedPatient) -> None:
    """A read by id gives the Patient the transaction stored."""
    document = client(engine).fetch(f"Patient/{patient.patient_id}")
    assert document["resourceType"] == "Patient"
    assert document["id"] == patient.patient_id


def test_search_with_small_count_is_paged_and_merged(engine: FhirEngine, patient: LoadedPatient) -> None:
    """_count=2 makes the engine page; the client follows every next link and merges the entries in order."""
    expected = calcium_ids(engine, patient)
    assert len(expected) >= 5, "the Synthea patient should have at least 5 calcium results"
    first = client(engine).get_json(f"Observation?patient=Patient/{patient.patient_id}&code={CALCIUM}&_count=2")
    assert len(first["entry"]) == 2
    assert any(link["relation"] == "next" for link in first["link"])
    merged = client(engine).fetch(f"Observation?patient=Patient/{patient.patient_id}&code={CALCIUM}&_count=2")
    assert entry_ids(merged) == expected
    assert merged["total"] == len(expected)
    assert "link" not in merged


def test_paging_stops_at_the_page_cap(
    engine: FhirEngine, patient: LoadedPatient, caplog: pytest.LogCaptureFixture
) -> None:
    """With max_pages=2 and _count=2 only four entries are read, and the truncation is logged."""
    expected = calcium_ids(engine, patient)
    with caplog.at_level(logging.WARNING, logger="cds_hooks.fhir_client"):
        merged = client(engine, max_pages=2).fetch(
            f"Observation?patient=Patient/{patient.patient_id}&code={CALCIUM}&_count=2"
        )
    assert entry_ids(merged) == expected[:4]
    assert "paging stopped at the cap of 2 pages" in caplog.text


def test_gzip_answers_are_decoded(engine: FhirEngine, patient: LoadedPatient) -> None:
    """The engine gzips large answers when asked (requests asks by default); the client reads them unchanged."""
    url = f"{engine.base_url}/Observation?patient=Patient/{patient.patient_id}&_count=50"
    raw = requests.get(url, headers=engine.headers(), timeout=10)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert len(client(engine).get_json(url)["entry"]) == 50


def test_unknown_patient_read_is_404(engine: FhirEngine) -> None:
    """A read of a patient the server does not hold is a 404 with an OperationOutcome body."""
    with pytest.raises(FhirHttpError) as raised:
        client(engine).fetch(f"Patient/{uuid.uuid4()}")
    assert raised.value.status == 404


def test_unknown_patient_becomes_412_through_the_resolver(engine: FhirEngine) -> None:
    """The resolver turns the 404 into 412 naming the key; searches for the same patient are merely empty."""
    templates = {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient=Patient/{{context.patientId}}",
    }
    resolver = PrefetchResolver(templates, lambda base, token: FhirClient(base, token))
    context = {"userId": "Practitioner/1", "patientId": str(uuid.uuid4())}
    request = HookRequest("patient-view", str(uuid.uuid4()), context, fhir_server=engine.base_url)
    with pytest.raises(PreconditionFailed) as raised:
        resolver.resolve(request)
    assert raised.value.status == 412
    assert raised.value.prefetch_keys == ["patient"]


def test_engine_error_answer_is_an_operation_outcome(engine: FhirEngine) -> None:
    """An unknown search parameter gives 400 with an OperationOutcome; the client raises FhirHttpError(400)."""
    rsp = requests.get(f"{engine.base_url}/Observation?no-such-param=1", headers=engine.headers(), timeout=10)
    assert rsp.status_code == 400
    assert rsp.json()["resourceType"] == "OperationOutcome"
    with pytest.raises(FhirHttpError) as raised:
        client(engine).fetch("Observation?no-such-param=1")
    assert raised.value.status == 400


def test_operation_outcome_with_200_is_refused(engine: FhirEngine) -> None:
    """A 200 answer whose body is an OperationOutcome is not taken as data."""
    stored = requests.post(
        f"{engine.base_url}/OperationOutcome",
        json={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]},
        headers=engine.headers(),
        timeout=10,
    )
    assert stored.status_code == 201
    with pytest.raises(FhirBadResponse, match="OperationOutcome"):
        client(engine).fetch(f"OperationOutcome/{stored.json()['id']}")


def lent(token: str) -> FhirAuthorization:
    """A fhirAuthorization lending ``token``."""
    return FhirAuthorization(token, "Bearer", 300, "patient/*.read", "cds-service")


@pytest.mark.parametrize(("authorization", "ok"), [(None, False), (lent("wrong"), False), (lent(ENGINE_TOKEN), True)])
def test_prefetched_operation_outcome_is_fetched_with_the_lent_token(
    engine: FhirEngine, patient: LoadedPatient, authorization: FhirAuthorization | None, ok: bool
) -> None:
    """A key holding an OperationOutcome is read from the engine with fhirAuthorization's token, else 412."""
    resolver = PrefetchResolver({"patient": "Patient/{{context.patientId}}"}, FhirClient)
    request = HookRequest(
        "patient-view",
        str(uuid.uuid4()),
        {"userId": "Practitioner/1", "patientId": patient.patient_id},
        fhir_server=engine.base_url,
        fhir_authorization=authorization,
        prefetch={"patient": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}},
    )
    if ok:
        assert resolver.resolve(request)["patient"]["id"] == patient.patient_id  # type: ignore[index]
    else:
        with pytest.raises(PreconditionFailed) as raised:
            resolver.resolve(request)
        assert "401" in raised.value.message


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_token_is_required(engine: FhirEngine, patient: LoadedPatient, token: str | None) -> None:
    """Without the bearer token, or with a wrong one, the engine answers 401 and the client raises."""
    with pytest.raises(FhirHttpError) as raised:
        client(engine, token=token).fetch(f"Patient/{patient.patient_id}")
    assert raised.value.status == 401


def test_token_is_sent_on_every_page(engine: FhirEngine, patient: LoadedPatient) -> None:
    """Every next page needs the token too (the engine checks each request): ten pages of ten are merged."""
    merged = client(engine).fetch(f"Observation?patient=Patient/{patient.patient_id}&_count=10")
    assert merged["total"] > 100
    assert len(merged["entry"]) == 100
    assert len(set(entry_ids(merged))) == 100
