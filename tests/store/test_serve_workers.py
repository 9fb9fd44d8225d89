"""``fasciculation-cds serve --workers 2`` on one database: parallel feedback through two gunicorn processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.config import Settings
from service.store import IssuedCard, Store, open_store
from service.store.tables import feedback
from tests.serving import served
from tests.store.conftest import T0
from tests.store.test_http import CLIENTS, ITEMS_PER_POST, POSTS_PER_CLIENT, count, post_all, report_from_new_process

APP_SERVICE_ID = "fasciculation-reversible-causes"
CARDS = 50


def seed_cards(store: Store) -> list[str]:
    """Cards as if issued earlier by this service, across two rules; their uuids."""
    cards = [
        IssuedCard(f"card-{n:03d}", APP_SERVICE_ID, "patient-view", f"hook-{n}", "warning", T0, f"rule-{n % 2}", "v1")
        for n in range(CARDS)
    ]
    store.record_cards(cards)
    return [card.card_uuid for card in cards]


def batches(card_uuids: list[str]) -> list[list[dict[str, Any]]]:
    """CLIENTS x POSTS_PER_CLIENT posts of ITEMS_PER_POST distinct override items."""
    total = CLIENTS * POSTS_PER_CLIENT * ITEMS_PER_POST
    items = [
        {
            "card": card_uuids[n % CARDS],
            "outcome": "overridden",
            "outcomeTimestamp": f"2025-03-01T12:{n // CARDS:02d}:00Z",
            "overrideReason": {"reason": {"code": "not-relevant", "system": "http://example.org/o"}},
        }
        for n in range(total)
    ]
    return [items[start : start + ITEMS_PER_POST] for start in range(0, total, ITEMS_PER_POST)]


def test_two_workers_store_every_item(database_url: str, tmp_path: Path) -> None:
    total = CLIENTS * POSTS_PER_CLIENT * ITEMS_PER_POST
    with served(database_url, tmp_path) as base:  # both workers migrate the empty database as they boot
        store = open_store(Settings(database_url=database_url))
        try:
            uuids = seed_cards(store)
            answers = post_all(base, batches(uuids), service_id=APP_SERVICE_ID)
            again = post_all(base, batches(uuids), service_id=APP_SERVICE_ID)
            assert count(store, feedback) == total
        finally:
            store.close()
    assert sum(a["stored"] for a in answers) == total and sum(a["unknownCards"] for a in answers) == 0
    assert sum(a["duplicates"] for a in again) == total
    report = report_from_new_process(database_url, tmp_path)
    assert {r["ruleId"]: (r["shown"], r["overridden"]) for r in report["rules"]} == {
        "rule-0": (CARDS // 2, CARDS // 2),
        "rule-1": (CARDS // 2, CARDS // 2),
    }
