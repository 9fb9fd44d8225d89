"""Versioned migrations: from empty, step by step, idempotent, concurrent, and never onto a newer schema."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from service.config import Settings
from service.store import LATEST_VERSION, MIGRATIONS, SchemaTooNew, StoreConfigError, create_store_engine, migrate
from service.store import open_store as _open_store
from service.store.tables import feedback, issued_cards, metadata, schema_version
from tests.store.conftest import T0, FakeClock


def test_fresh_database_is_migrated_to_the_latest_version(database_url: str) -> None:
    store = _open_store(Settings(database_url=database_url), FakeClock())
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(select(schema_version.c.version, schema_version.c.name)).all()
        assert [version for version, _ in rows] == [m.version for m in MIGRATIONS]
        assert store.schema_version() == LATEST_VERSION == 4
    finally:
        store.close()


def test_opening_again_changes_nothing(database_url: str) -> None:
    for _ in range(3):
        store = _open_store(Settings(database_url=database_url), FakeClock())
        store.close()
    engine = create_store_engine(database_url)
    try:
        assert migrate(engine, T0) == LATEST_VERSION
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM schema_version")) == len(MIGRATIONS)
    finally:
        engine.dispose()


def test_steps_apply_in_order_and_keep_data(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        assert migrate(engine, T0, target=1) == 1
        with engine.begin() as connection:
            assert not inspect(connection).has_table("seen_jti")
            connection.execute(
                issued_cards.insert().values(
                    card_uuid="c-1",
                    service_id="s",
                    hook="patient-view",
                    hook_instance="h",
                    indicator="info",
                    suggestion_uuids="[]",
                    override_reasons="[]",
                    issued_at=T0,
                )  # fmt: skip
            )
        assert migrate(engine, T0, target=2) == 2
        with engine.connect() as connection:
            assert inspect(connection).has_table("seen_jti")
            assert connection.scalar(select(issued_cards.c.card_uuid)) == "c-1"
    finally:
        engine.dispose()


def _old_card(card_uuid: str, hook: str, service_id: str = "fasciculation-reversible-causes") -> dict[str, object]:
    return {
        "card_uuid": card_uuid,
        "service_id": service_id,
        "hook": hook,
        "hook_instance": f"h-{card_uuid}",
        "rule_id": "drug.lithium",
        "indicator": "warning",
        "suggestion_uuids": "[]",
        "override_reasons": "[]",
        "issued_at": T0,
    }


def _old_feedback(card_uuid: str, outcome: str, minute: int) -> dict[str, object]:
    return {
        "card_uuid": card_uuid,
        "service_id": "fasciculation-reversible-causes",
        "outcome": outcome,
        "outcome_timestamp": T0.replace(minute=minute),
        "accepted_suggestions": "[]",
        "has_comment": False,
        "card_known": True,
        "received_at": T0,
    }


def test_order_cards_and_their_feedback_move_to_their_hook_ids(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        migrate(engine, T0, target=2)
        with engine.begin() as connection:
            old_cards = [
                _old_card("pv", "patient-view"),
                _old_card("os", "order-select"),
                _old_card("sg", "order-sign"),
            ]
            old_cards.append(_old_card("other", "order-sign", service_id="another-service"))
            connection.execute(issued_cards.insert(), old_cards)
            old_events = [_old_feedback("os", "accepted", 1), _old_feedback("os", "overridden", 2)]
            old_events.append(_old_feedback("pv", "overridden", 3))
            connection.execute(feedback.insert(), old_events)
        assert migrate(engine, T0) == LATEST_VERSION
        with engine.connect() as connection:
            cards = dict(connection.execute(select(issued_cards.c.card_uuid, issued_cards.c.service_id)).all())
            events = connection.execute(select(feedback.c.card_uuid, feedback.c.service_id)).all()
        assert cards == {
            "pv": "fasciculation-reversible-causes",
            "os": "fasciculation-reversible-causes-order-select",
            "sg": "fasciculation-reversible-causes-order-sign",
            "other": "another-service",
        }
        assert sorted(events) == [
            ("os", "fasciculation-reversible-causes-order-select"),
            ("os", "fasciculation-reversible-causes-order-select"),
            ("pv", "fasciculation-reversible-causes"),
        ]
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_model(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        migrate(engine, T0)
        inspector = inspect(engine)
        for table in metadata.sorted_tables:
            columns = {column["name"] for column in inspector.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
            indexes = {index["name"] for index in inspector.get_indexes(table.name)}
            assert {index.name for index in table.indexes} <= indexes, table.name
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused(database_url: str) -> None:
    store = _open_store(Settings(database_url=database_url), FakeClock())
    with store.engine.begin() as connection:
        connection.execute(schema_version.insert().values(version=LATEST_VERSION + 1, name="future", applied_at=T0))
    store.close()
    with pytest.raises(SchemaTooNew, match=f"version {LATEST_VERSION + 1}"):
        _open_store(Settings(database_url=database_url), FakeClock())


def test_workers_starting_together_migrate_once(database_url: str) -> None:
    errors: list[Exception] = []
    barrier = threading.Barrier(6)

    def start_worker() -> None:
        try:
            barrier.wait()
            _open_store(Settings(database_url=database_url), FakeClock()).close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM schema_version")) == len(MIGRATIONS)
    finally:
        engine.dispose()


def test_sqlite_file_gets_its_directory_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "cds.sqlite3"
    store = _open_store(Settings(database_url=f"sqlite:///{path}"), FakeClock())
    try:
        assert path.exists()
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5_000
    finally:
        store.close()


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(StoreConfigError, match="mysql"):
        create_store_engine("mysql://localhost/db")
