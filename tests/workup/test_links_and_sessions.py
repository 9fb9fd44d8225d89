"""Card links to the work-up view (on by default, off by setting) and the server-side session store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from service.hooks import SERVICE_ID
from service.store import create_store_engine
from service.store.database import Store, utc_now
from service.store.resilience import DatabaseUnavailable, ResilientStore
from service.workup.blueprint import app_context_finding
from service.workup.config import load_workup_settings
from service.workup.sessions import SessionStore
from tests.conftest import AppFactory
from tests.store.conftest import BACKENDS, database

ROOT = Path(__file__).resolve().parents[2]
REQUEST = ROOT / "fixtures" / "requests" / "patient-view" / "magnesium_first.json"


def _cards(app_factory: AppFactory, **config: object) -> list[dict[str, object]]:
    app = app_factory(**config)
    answer = app.test_client().post(f"/cds-services/{SERVICE_ID}", json=json.loads(REQUEST.read_text()))
    assert answer.status_code == 200
    cards: list[dict[str, object]] = answer.get_json()["cards"]
    return cards


def test_every_card_links_to_the_app_with_its_finding(app_factory: AppFactory) -> None:
    cards = _cards(app_factory, public_url="https://cds.example.org/")
    assert len(cards) == 2
    for card in cards:
        rule_id = card["extension"]["org.fasciculation-cds.card"]["ruleId"]  # type: ignore[index]
        assert card["links"] == [
            {
                "label": "Open the work-up view: lab trends, drugs and checklist",
                "url": "https://cds.example.org/workup/launch",
                "type": "smart",
                "appContext": f"finding={rule_id}",
            }
        ]
        assert app_context_finding(card["links"][0]["appContext"]) == rule_id  # type: ignore[index]


def test_links_can_be_switched_off(app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_WORKUP_LINKS", "false")
    cards = _cards(app_factory)
    assert cards and all("links" not in card for card in cards)


def test_settings_from_environment_and_overrides() -> None:
    environ = {"CDS_WORKUP_WINDOW_DAYS": "365", "CDS_WORKUP_FRAME_ANCESTORS": "https://ehr.example.org"}
    overrides: dict[str, object] = {"workup_links": False, "database_url": "sqlite://"}
    settings = load_workup_settings(environ, overrides)
    assert (settings.window_days, settings.frame_ancestors, settings.links) == (365, "https://ehr.example.org", False)
    assert overrides == {"database_url": "sqlite://"}  # workup_* keys are taken out for the main settings
    with pytest.raises(ValueError, match="CDS_WORKUP_WINDOW_DAYS"):
        load_workup_settings({"CDS_WORKUP_WINDOW_DAYS": "two years"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_session_store_keeps_only_a_hash_and_expires(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path) as url:
        engine = create_store_engine(url)
        try:
            _exercise_store(engine)
        finally:
            engine.dispose()


def test_session_database_failure_is_database_unavailable(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        guard = ResilientStore(Store(engine, utc_now), timeout_s=5, retry_s=60).guarded
        with pytest.raises(DatabaseUnavailable):  # no migration ran: the table is missing, like a database gone
            SessionStore(engine, guard, ttl_s=60).create({"state": "s"})
    finally:
        engine.dispose()


def test_work_up_page_with_the_database_failing_is_a_clear_503(app_factory: AppFactory) -> None:
    app = app_factory()
    with app.extensions["fasciculation_cds.store"].engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE workup_session")  # every session read now fails
    client = app.test_client()
    client.set_cookie("workup_session", "an-opaque-id")
    page = client.get("/workup/")
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "Service database unavailable" in page.get_data(as_text=True)


def _exercise_store(engine: Engine) -> None:
    with engine.connect():
        pass  # the SQLite file exists before the store takes its identity (service/store/file_guard.py)
    guard = ResilientStore(Store(engine, utc_now), timeout_s=5, retry_s=1, migrated=False).guarded
    now = [1000.0]
    store = SessionStore(engine, guard, ttl_s=60, clock=lambda: now[0])  # the first call migrates (table: step 4)
    session_id = store.create({"state": "s1"})
    assert store.load(session_id) == {"state": "s1"} and store.load("another-id") is None and store.load(None) is None
    store.replace(session_id, {"access_token": "secret-token"})
    assert store.load(session_id) == {"access_token": "secret-token"}
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT id_hash FROM workup_session").scalars().all()
    assert stored and session_id not in stored
    now[0] += 61
    assert store.load(session_id) is None
    store.create({"state": "s2"})  # creating a session purges expired ones
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM workup_session").scalar() == 1
