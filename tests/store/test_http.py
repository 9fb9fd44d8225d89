"""Over a real socket: parallel clients post feedback and every item is stored; a restart keeps everything."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import requests
from sqlalchemy import func, select

from service.config import Settings
from service.store import Store, open_store
from service.store.tables import feedback, issued_cards
from tests.loopback import serve_app
from tests.store.conftest import SERVICE_ID, CardSpec, overridden
from tests.store.http_app import RULES, build_app, card_specs, hook_body

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8
POSTS_PER_CLIENT = 25
ITEMS_PER_POST = 4
TIMEOUT_S = 30


def count(store: Store, table: Any) -> int:
    """Rows in ``table``."""
    with store.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def issue_cards(base: str, hook_instances: list[str]) -> list[CardSpec]:
    """Call the service once per hook instance, in parallel; the cards it answered."""

    def call(hook_instance: str) -> int:
        with requests.Session() as session:
            response = session.post(
                f"{base}/cds-services/{SERVICE_ID}", json=hook_body(hook_instance), timeout=TIMEOUT_S
            )
            return len(response.json()["cards"])

    with ThreadPoolExecutor(CLIENTS) as pool:
        assert list(pool.map(call, hook_instances)) == [len(RULES)] * len(hook_instances)
    return [spec for hook_instance in hook_instances for spec in card_specs(hook_instance)]


def feedback_batches(specs: list[CardSpec]) -> list[list[dict[str, Any]]]:
    """CLIENTS x POSTS_PER_CLIENT bodies of ITEMS_PER_POST distinct items (cards reused at distinct times)."""
    total = CLIENTS * POSTS_PER_CLIENT * ITEMS_PER_POST
    items = [
        overridden(specs[n % len(specs)].card_uuid, at=f"2025-03-01T12:{n // len(specs):02d}:00Z") for n in range(total)
    ]
    return [items[start : start + ITEMS_PER_POST] for start in range(0, total, ITEMS_PER_POST)]


def post_all(base: str, batches: list[list[dict[str, Any]]], service_id: str = SERVICE_ID) -> list[dict[str, Any]]:
    """Post every batch from CLIENTS parallel clients, each with its own connection."""
    url = f"{base}/cds-services/{service_id}/feedback"

    def client(share: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        with requests.Session() as session:
            answers = []
            for batch in share:
                response = session.post(url, json={"feedback": batch}, timeout=TIMEOUT_S)
                assert response.status_code == 200, response.text
                answers.append(response.json())
            return answers

    shares = [batches[n::CLIENTS] for n in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        return [answer for answers in pool.map(client, shares) for answer in answers]


def test_parallel_clients_lose_no_feedback(store: Store) -> None:
    with serve_app(build_app(store)) as base:
        specs = issue_cards(base, [str(uuid.uuid4()) for _ in range(20)])
        batches = feedback_batches(specs)
        answers = post_all(base, batches)
        again = post_all(base, batches)
    total = CLIENTS * POSTS_PER_CLIENT * ITEMS_PER_POST
    assert count(store, issued_cards) == len(specs) == 100
    assert sum(a["stored"] for a in answers) == total == 800
    assert sum(a["duplicates"] for a in again) == total and sum(a["stored"] for a in again) == 0
    assert count(store, feedback) == total


def test_bad_feedback_is_a_400_naming_the_field_and_changes_nothing(store: Store) -> None:
    with serve_app(build_app(store)) as base, requests.Session() as session:
        [spec, *_] = issue_cards(base, [str(uuid.uuid4())])
        url = f"{base}/cds-services/{SERVICE_ID}/feedback"
        assert session.post(url, json={"feedback": [overridden(spec.card_uuid)]}, timeout=TIMEOUT_S).status_code == 200
        bad = {"feedback": [overridden(spec.card_uuid, at="2025-03-02T00:00:00Z"), {"card": spec.card_uuid}]}
        response = session.post(url, json=bad, timeout=TIMEOUT_S)
        nul = session.post(url, json={"feedback": [overridden("x\u0000")]}, timeout=TIMEOUT_S)
    assert response.status_code == 400 and "feedback.1.outcome" in response.json()["fields"]
    assert nul.status_code == 400 and "feedback.0.card" in nul.json()["fields"]
    assert count(store, feedback) == 1


def report_from_new_process(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """``fasciculation-cds feedback report --json`` in a fresh interpreter on ``database_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env["CDS_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "feedback", "report", "--json"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    document: dict[str, Any] = orjson.loads(done.stdout)
    return document


def test_feedback_survives_a_restart_and_the_report_shows_it(database_url: str, tmp_path: Path) -> None:
    hook_instance = str(uuid.uuid4())
    first = open_store(Settings(database_url=database_url))
    try:
        with serve_app(build_app(first)) as base:
            specs = issue_cards(base, [hook_instance])
            post_all(base, [[overridden(specs[0].card_uuid, code="already-done")]])
    finally:
        first.close()
    second = open_store(Settings(database_url=database_url))  # a new app on the same database
    try:
        with serve_app(build_app(second)) as base:
            [repeat] = post_all(base, [[overridden(specs[0].card_uuid, code="already-done")]])
    finally:
        second.close()
    assert repeat == {"received": 1, "stored": 0, "duplicates": 1, "unknownCards": 0}
    rules = {rule["ruleId"]: rule for rule in report_from_new_process(database_url, tmp_path)["rules"]}
    assert (rules[RULES[0]]["shown"], rules[RULES[0]]["overridden"]) == (1, 1)
    assert rules[RULES[0]]["topOverrideReasons"][0]["display"] == "Already ordered"
