"""Every request fixture gives, byte for byte, the response body recorded in ``tests/responses/``.

The recorded bodies are the reference for refactors that must not change behaviour: a refactor leaves
this test green without touching ``tests/responses/``. A deliberate change of cards regenerates them with
    UPDATE_RESPONSES=1 .venv/bin/pytest tests/test_responses_unchanged.py
and the diff of ``tests/responses/`` is reviewed like any golden file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.hooks import SERVICE_IDS
from tests.conftest import service_app

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = ROOT / "fixtures" / "requests"
RECORDED = Path(__file__).resolve().parent / "responses"
CASES = sorted(REQUESTS.glob("*/*.json"))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """The real app on a fresh SQLite file, with the fixtures' clock, links and settings at their defaults; closed
    after the module (tests/conftest.py service_app)."""
    with service_app(tmp_path_factory.mktemp("responses")) as app:
        yield app.test_client()


def test_every_hook_has_cases() -> None:
    assert {path.parent.name for path in CASES} == set(SERVICE_IDS)
    assert len(CASES) >= 50


@pytest.mark.parametrize("request_file", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_response_bytes_unchanged(client: FlaskClient, request_file: Path) -> None:
    hook = request_file.parent.name
    answer = client.post(
        f"/cds-services/{SERVICE_IDS[hook]}",
        data=request_file.read_bytes(),
        headers={"Content-Type": "application/json", "Host": "cds.example.org"},
    )
    assert answer.status_code == 200
    recorded = RECORDED / hook / request_file.name
    if os.environ.get("UPDATE_RESPONSES") == "1":
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_bytes(answer.get_data())
    assert recorded.exists(), f"missing {recorded}; run with UPDATE_RESPONSES=1"
    assert answer.get_data() == recorded.read_bytes()
