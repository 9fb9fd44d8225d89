"""What the engine itself does over HTTP: transactions, search features, paging links, errors, auth, formats."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from tests.engine.conftest import LoadedEngine
from tests.engine.fhir_engine_harness import FhirEngine, LoadedPatient

CALCIUM = "http://loinc.org|49765-1"
GLUCOSE = "http://loinc.org|2339-0"


def search(engine: FhirEngine, resource_type: str, **params: str) -> dict[str, Any]:
    """GET a search with the session token and return the Bundle (asserting 200)."""
    rsp = requests.get(f"{engine.base_url}/{resource_type}", params=params, headers=engine.headers(), timeout=10)
    assert rsp.status_code == 200, rsp.text
    bundle: dict[str, Any] = rsp.json()
    return bundle


def matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of the match-mode entries."""
    return [e["resource"] for e in bundle.get("entry") or [] if e.get("search", {}).get("mode") == "match"]


def codes(resources: list[dict[str, Any]]) -> set[str]:
    """The first coding's code of each resource."""
    return {r["code"]["coding"][0]["code"] for r in resources}


def test_transaction_resolves_urn_uuid_references(patient: LoadedPatient) -> None:
    """Synthea's urn:uuid fullUrls become server ids, and references to them become Patient/<id>."""
    observations = [r for r in patient.resources if r["resourceType"] == "Observation"]
    assert observations
    assert {o["subject"]["reference"] for o in observations} == {f"Patient/{patient.patient_id}"}
    assert not any("urn:uuid" in str(r) for r in patient.resources if r["resourceType"] != "Patient")


def test_all_synthea_patients_are_loaded(loaded_engine: LoadedEngine) -> None:
    """Eighteen Patients, one per bundle, each with the neuropathy condition the data set was chosen for."""
    assert len(loaded_engine.patients) == 18
    for loaded in loaded_engine.patients:
        conditions = search(loaded_engine.engine, "Condition", patient=f"Patient/{loaded.patient_id}", _count="200")
        assert "368581000119106" in codes(matches(conditions)), loaded.name


def test_patient_reference_form(engine: FhirEngine, patient: LoadedPatient) -> None:
    """patient=Patient/<id> matches; the bare id matches nothing on this engine (the templates send the first)."""
    assert search(engine, "Observation", patient=f"Patient/{patient.patient_id}")["total"] > 0
    assert search(engine, "Observation", patient=patient.patient_id)["total"] == 0


def test_token_or_list_and_sort(engine: FhirEngine, patient: LoadedPatient) -> None:
    """code=a,b is an OR; _sort=-date orders newest first, _sort=date oldest first."""
    ref = f"Patient/{patient.patient_id}"
    calcium = search(engine, "Observation", patient=ref, code=CALCIUM, _count="500")["total"]
    glucose = search(engine, "Observation", patient=ref, code=GLUCOSE, _count="500")["total"]
    both = search(engine, "Observation", patient=ref, code=f"{CALCIUM},{GLUCOSE}", _sort="-date", _count="500")
    assert calcium > 0 and glucose > 0 and both["total"] == calcium + glucose
    dates = [o["effectiveDateTime"] for o in matches(both)]
    assert dates == sorted(dates, reverse=True)
    oldest_first = search(engine, "Observation", patient=ref, code=f"{CALCIUM},{GLUCOSE}", _sort="date", _count="500")
    assert [o["effectiveDateTime"] for o in matches(oldest_first)] == sorted(dates)


def test_date_prefixes_partition(engine: FhirEngine, patient: LoadedPatient) -> None:
    """date=ge<d> and date=lt<d> split the results at <d>."""
    ref = f"Patient/{patient.patient_id}"
    every = matches(search(engine, "Observation", patient=ref, code=CALCIUM, _count="500"))
    cut = sorted(o["effectiveDateTime"] for o in every)[len(every) // 2][:10]
    later = matches(search(engine, "Observation", patient=ref, code=CALCIUM, date=f"ge{cut}", _count="500"))
    earlier = matches(search(engine, "Observation", patient=ref, code=CALCIUM, date=f"lt{cut}", _count="500"))
    assert later and earlier and len(later) + len(earlier) == len(every)
    assert all(o["effectiveDateTime"][:10] >= cut for o in later)
    assert all(o["effectiveDateTime"][:10] < cut for o in earlier)


def test_paging_links_point_back_at_the_engine(engine: FhirEngine, patient: LoadedPatient) -> None:
    """Default page size 20; next links are absolute on the same loopback host, port and base path."""
    page = search(engine, "Observation", patient=f"Patient/{patient.patient_id}")
    assert len(page["entry"]) == 20 and page["total"] > 20
    links = {link["relation"]: link["url"] for link in page["link"]}
    base, nxt = urlsplit(engine.base_url), urlsplit(links["next"])
    assert (nxt.scheme, nxt.netloc) == (base.scheme, base.netloc)
    assert nxt.path == f"{base.path}/Observation"
    second = requests.get(links["next"], headers=engine.headers(), timeout=10).json()
    first_ids = {e["resource"]["id"] for e in page["entry"]}
    assert first_ids.isdisjoint(e["resource"]["id"] for e in second["entry"])
    assert page["entry"][0]["fullUrl"] == f"{engine.base_url}/Observation/{page['entry'][0]['resource']['id']}"


def test_post_search_equals_get(engine: FhirEngine, patient: LoadedPatient) -> None:
    """POST Observation/_search with a form body finds what GET finds."""
    params = {"patient": f"Patient/{patient.patient_id}", "code": f"{CALCIUM},{GLUCOSE}", "_sort": "-date"}
    headers = {**engine.headers(), "Content-Type": "application/x-www-form-urlencoded"}
    rsp = requests.post(f"{engine.base_url}/Observation/_search", data=params, headers=headers, timeout=10)
    assert rsp.status_code == 200
    got = search(engine, "Observation", **params)
    assert [e["resource"]["id"] for e in rsp.json()["entry"]] == [e["resource"]["id"] for e in got["entry"]]


def test_include_brings_the_referenced_medication(engine: FhirEngine, scenario: LoadedPatient) -> None:
    """_include=MedicationRequest:medication adds the Medication the transaction linked by urn:uuid."""
    bundle = search(
        engine,
        "MedicationRequest",
        patient=f"Patient/{scenario.patient_id}",
        _include="MedicationRequest:medication",
    )
    included = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [e["resource"]["resourceType"] for e in included] == ["Medication"]
    order = matches(bundle)[0]
    assert order["medicationReference"]["reference"] == f"Medication/{included[0]['resource']['id']}"


def test_errors_are_operation_outcomes(engine: FhirEngine) -> None:
    """Unknown parameter 400, unknown type 404, unknown id 404, bad _include 400: all OperationOutcome bodies."""
    for path, status in [
        ("Observation?nonsense=1", 400),
        ("NoSuchType?name=x", 404),
        ("Patient/does-not-exist", 404),
        ("Observation?_include=Patient:organization", 400),
    ]:
        rsp = requests.get(f"{engine.base_url}/{path}", headers=engine.headers(), timeout=10)
        assert rsp.status_code == status, path
        assert rsp.json()["resourceType"] == "OperationOutcome", path


def test_token_required_but_metadata_open(engine: FhirEngine) -> None:
    """Without the token: 401 with WWW-Authenticate; the CapabilityStatement is public."""
    rsp = requests.get(f"{engine.base_url}/Patient", timeout=10)
    assert rsp.status_code == 401
    assert rsp.headers["WWW-Authenticate"].startswith("Bearer")
    assert rsp.json()["resourceType"] == "OperationOutcome"
    assert requests.get(f"{engine.base_url}/metadata", timeout=10).status_code == 200


def test_content_negotiation(engine: FhirEngine, patient: LoadedPatient) -> None:
    """fhir+json by default, plain JSON when only that is accepted, 406 for XML."""
    url = f"{engine.base_url}/Patient/{patient.patient_id}"
    token = {"Authorization": engine.headers()["Authorization"]}
    default = requests.get(url, headers=token, timeout=10)
    assert default.headers["Content-Type"].startswith("application/fhir+json")
    plain = requests.get(url, headers={**token, "Accept": "application/json"}, timeout=10)
    assert plain.headers["Content-Type"].startswith("application/json")
    assert requests.get(url, headers={**token, "Accept": "application/fhir+xml"}, timeout=10).status_code == 406
