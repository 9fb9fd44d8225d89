"""The real application (service.create_app): auth from the trusted-clients file, the database replay cache shared
by workers, the default body limit, CORS, OpenAPI, and a fuzzed patient-view call that never answers 5xx."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import AppFactory, service_app
from tests.loopback import loopback_server
from tests.security.conftest import ISSUER, SigningKey, bearer, claims, new_es384_key, sign

DISCOVERY = "http://localhost/cds-services"


@pytest.fixture
def make_app(app_factory: AppFactory, tmp_path: Path) -> AppFactory:
    """Real apps on one SQLite file (two apps stand for two workers), closed after the test; public at localhost."""
    return functools.partial(
        app_factory, database_url=f"sqlite:///{tmp_path / 'cds.sqlite3'}", public_url="http://localhost"
    )


def trusted_file(tmp_path: Path, key: SigningKey) -> str:
    """A trusted-clients file trusting ISSUER with ``key`` inline."""
    path = tmp_path / "trusted-clients.json"
    path.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks": {"keys": [key.jwk]}}]}))
    return str(path)


def service_call(app: Flask) -> tuple[str, dict[str, Any]]:
    """The service path and a complete patient-view body (every prefetch key present)."""
    entry = app.test_client().get("/cds-services", headers={}).get_json()
    definition = entry["services"][0] if entry and "services" in entry else {"id": "unknown", "prefetch": {}}
    empty = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    prefetch = {k: {"resourceType": "Patient", "id": "p1"} if k == "patient" else empty for k in definition["prefetch"]}
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "p1"},
        "prefetch": prefetch,
    }
    return f"/cds-services/{definition['id']}", body


@pytest.fixture
def secured(make_app: AppFactory, tmp_path: Path, es384: SigningKey) -> Flask:
    """The app with JWT auth on (discovery left open)."""
    return make_app(trusted_clients_file=trusted_file(tmp_path, es384))


def test_auth_off_by_default_and_says_so(make_app: AppFactory, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        app = make_app()
    assert "AUTHENTICATION IS OFF" in caplog.text
    path, body = service_call(app)
    assert app.test_client().post(path, json=body).status_code != 401


def test_bad_trusted_clients_file_stops_the_app(make_app: AppFactory, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks_url": "http://ehr.example.org/jwks"}]}))
    with pytest.raises(ValueError, match="trusted clients file"):
        make_app(trusted_clients_file=str(bad))


def test_auth_without_a_public_url_refuses_to_start(make_app: AppFactory, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="set CDS_PUBLIC_URL"):
        make_app(trusted_clients_file=trusted_file(tmp_path, new_es384_key()), public_url=None)


def test_host_header_never_decides_the_audience(make_app: AppFactory, tmp_path: Path, es384: SigningKey) -> None:
    # The probe's case: a token for another CDS service, sent with that service's Host header.
    app = make_app(trusted_clients_file=trusted_file(tmp_path, es384), public_url="https://cds.example.org")
    path, body = service_call(app)
    other = bearer(sign(es384, claims(audience=f"http://other-cds.example{path}")))
    answer = app.test_client().post(path, json=body, headers={**other, "Host": "other-cds.example"})
    assert answer.status_code == 401
    ours = bearer(sign(es384, claims(audience=f"https://cds.example.org{path}")))
    assert app.test_client().post(path, json=body, headers={**ours, "Host": "other-cds.example"}).status_code == 200


def test_accepted_audiences_are_a_configured_list(make_app: AppFactory, tmp_path: Path, es384: SigningKey) -> None:
    extra = "https://cds-a.example.org, https://cds-b.example.org/base"
    app = make_app(trusted_clients_file=trusted_file(tmp_path, es384), public_url=None, accepted_audiences=extra)
    path, body = service_call(app)
    for base in ("https://cds-a.example.org", "https://cds-b.example.org/base"):
        token = bearer(sign(es384, claims(audience=f"{base}{path}")))
        assert app.test_client().post(path, json=body, headers=token).status_code == 200
    host = bearer(sign(es384, claims(audience=f"http://localhost{path}")))
    assert app.test_client().post(path, json=body, headers=host).status_code == 401


def test_service_call_needs_a_token(secured: Flask, es384: SigningKey) -> None:
    path, body = service_call(secured)
    client = secured.test_client()
    rsp = client.post(path, json=body, headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert rsp.status_code == 401 and rsp.get_json() == {"error": "unauthorized"}
    assert rsp.headers["Access-Control-Allow-Origin"] == "*"
    token = sign(es384, claims(audience=f"http://localhost{path}"))
    assert client.post(path, json=body, headers=bearer(token)).status_code != 401


def test_replay_is_caught_across_workers(make_app: AppFactory, tmp_path: Path, es384: SigningKey) -> None:
    # Two apps on one database stand for two gunicorn workers (or two hosts on PostgreSQL).
    trusted = trusted_file(tmp_path, es384)
    first = make_app(trusted_clients_file=trusted, discovery_requires_auth=True).test_client()
    second = make_app(trusted_clients_file=trusted, discovery_requires_auth=True).test_client()
    token = bearer(sign(es384, claims(audience=DISCOVERY)))
    assert first.get("/cds-services").status_code == 401
    assert first.get("/cds-services", headers=token).status_code == 200
    assert second.get("/cds-services", headers=token).status_code == 401
    assert second.get("/cds-services", headers=bearer(sign(es384, claims(audience=DISCOVERY)))).status_code == 200


def test_public_url_sets_the_audience(make_app: AppFactory, tmp_path: Path, es384: SigningKey) -> None:
    trusted = trusted_file(tmp_path, es384)
    app = make_app(trusted_clients_file=trusted, discovery_requires_auth=True, public_url="https://cds.x.org")
    client = app.test_client()
    assert client.get("/cds-services", headers=bearer(sign(es384, claims(audience=DISCOVERY)))).status_code == 401
    public = bearer(sign(es384, claims(audience="https://cds.x.org/cds-services")))
    assert client.get("/cds-services", headers=public).status_code == 200


def test_auth_on_means_no_implicit_fhir_servers(secured: Flask, es384: SigningKey) -> None:
    path, body = service_call(secured)
    with loopback_server() as fhir:
        body = {**body, "prefetch": {}, "fhirServer": fhir.url("/fhir")}
        token = bearer(sign(es384, claims(audience=f"http://localhost{path}")))
        rsp = secured.test_client().post(path, json=body, headers=token)
        assert fhir.total == 0
    assert rsp.status_code == 412 and "allow-list" in rsp.get_json()["message"]


def test_default_body_limit_is_10_mb(make_app: AppFactory) -> None:
    app = make_app()
    path, body = service_call(app)
    body["prefetch"]["patient"]["text"] = "x" * (10 * 1024 * 1024)
    rsp = app.test_client().post(path, json=body)
    assert rsp.status_code == 413 and rsp.is_json


def test_openapi_describes_the_service(secured: Flask) -> None:
    document = secured.test_client().get("/openapi.json").get_json()
    path, _ = service_call(secured)
    assert document["openapi"].startswith("3.")
    assert path in document["paths"] and f"{path}/feedback" in document["paths"]
    assert document["paths"][path]["post"]["security"] == [{"cdsHooksJwt": []}]
    assert "401" in document["paths"][path]["post"]["responses"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
RESOURCE = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["Patient", "Observation", "Condition", "MedicationRequest", "Bundle", "x"])},
    optional={
        "id": st.text(max_size=8),
        "entry": st.one_of(JSON, st.lists(st.fixed_dictionaries({}, optional={"resource": JSON}), max_size=3)),
        "code": JSON,
        "valueQuantity": st.one_of(JSON, st.fixed_dictionaries({"value": JSON, "unit": JSON, "code": JSON})),
        "effectiveDateTime": st.one_of(st.text(max_size=25), JSON),
        "status": JSON,
        "birthDate": st.one_of(st.text(max_size=12), JSON),
    },
)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app for the whole fuzz run (auth off, empty allow-list: nothing leaves the process)."""
    with service_app(tmp_path_factory.mktemp("fuzz"), fhir_server_allowlist="") as app:
        yield app.test_client()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefetch=st.dictionaries(st.sampled_from(["patient", "labs", "conditions", "x"]), st.one_of(RESOURCE, JSON)))
def test_fuzz_patient_view_never_5xx(fuzz_client: Any, prefetch: dict[str, Any]) -> None:
    path, body = service_call(fuzz_client.application)
    rsp = fuzz_client.post(path, json={**body, "prefetch": {**body["prefetch"], **prefetch}})
    assert rsp.status_code < 500, rsp.get_data()[:300]
