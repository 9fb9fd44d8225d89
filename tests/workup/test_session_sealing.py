"""Work-up sessions are sealed at rest (issue 23 row 6): the row holds neither the EHR's access token nor the patient
id nor the launch's state, on SQLite and PostgreSQL; another key opens nothing; keys rotate; a bad key stops serve."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from service.store import create_store_engine
from service.store.database import Store, utc_now
from service.store.resilience import ResilientStore
from service.workup.sessions import KEY_VARIABLE, SessionStore, prepare_session_key, session_sealer
from tests.conftest import AppFactory
from tests.loopback import Answer, loopback_server
from tests.store.conftest import BACKENDS, database

TOKEN, PATIENT = "ehr-access-token-5f2c9a", "patient-77123"


def _rows(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [str(row) for row in connection.exec_driver_sql("SELECT data FROM workup_session").scalars().all()]


def _store(engine: Engine, keys: str | None) -> SessionStore:
    guard = ResilientStore(Store(engine, utc_now), timeout_s=5, retry_s=1, migrated=False).guarded
    return SessionStore(engine, guard, ttl_s=60, sealer=session_sealer(keys))


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_row_holds_no_token_and_no_patient(backend: str, tmp_path: Path) -> None:
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with database(backend, tmp_path) as url:
        engine = create_store_engine(url)
        try:
            store = _store(engine, key)
            session_id = store.create(
                {"iss": "https://ehr.example.org/fhir", "access_token": TOKEN, "patient": PATIENT}
            )
            (row,) = _rows(engine)
            assert TOKEN not in row and PATIENT not in row and "ehr.example.org" not in row
            assert store.load(session_id) == {
                "iss": "https://ehr.example.org/fhir",
                "access_token": TOKEN,
                "patient": PATIENT,
            }
            assert _store(engine, other).load(session_id) is None  # another key (a restart without one) opens nothing
            assert _store(engine, f"{other},{key}").load(session_id) is not None  # rotation: the old key still opens
        finally:
            engine.dispose()


def test_a_launch_through_the_app_writes_a_sealed_row(app_factory: AppFactory) -> None:
    with loopback_server("/fhir") as fhir:
        endpoints = {"authorization_endpoint": f"{fhir.base_url}/authorize", "token_endpoint": f"{fhir.base_url}/t"}
        fhir.route("/.well-known/smart-configuration", Answer(endpoints, content_type="application/json"))
        app = app_factory(fhir_server_allowlist=fhir.base_url, workup_session_key=Fernet.generate_key().decode())
        answer = app.test_client().get(f"/workup/launch?launch=L1&iss={quote(fhir.base_url, safe='')}")
    assert answer.status_code == 302
    state = answer.headers["Location"].split("state=", 1)[1].split("&", 1)[0]
    (row,) = _rows(app.extensions["fasciculation_cds.store"].engine)
    assert state not in row and fhir.base_url not in row and "verifier" not in row


def test_serve_makes_one_key_for_its_workers_and_refuses_a_bad_one() -> None:
    environ: dict[str, str] = {}
    assert prepare_session_key(environ) is None and len(environ[KEY_VARIABLE]) == 44
    problem = prepare_session_key({KEY_VARIABLE: "not-a-key"})
    assert problem is not None and KEY_VARIABLE in problem and "not-a-key" not in problem
    assert prepare_session_key({KEY_VARIABLE: Fernet.generate_key().decode()}) is None
