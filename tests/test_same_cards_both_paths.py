"""``evaluate --bundle`` and the patient-view hook give the same cards for every scenario fixture."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.cli import main
from service.hooks import SERVICE_ID
from service.workup.links import DEFAULT_BASE_URL
from tests.conftest import NOW, service_app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIOS = sorted((FIXTURES / "patients").glob("*.json"))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """The real app on a fresh SQLite file, with the fixtures' clock; its public URL is the CLI's default address;
    closed after the module (tests/conftest.py service_app)."""
    with service_app(tmp_path_factory.mktemp("paths"), public_url=DEFAULT_BASE_URL) as app:
        yield app.test_client()


def test_every_scenario_has_a_request() -> None:
    assert len(SCENARIOS) >= 20
    assert {p.name for p in SCENARIOS} == {p.name for p in (FIXTURES / "requests" / "patient-view").glob("*.json")}


@pytest.mark.parametrize("bundle", SCENARIOS, ids=lambda p: p.stem)
def test_cli_and_hook_agree(client: FlaskClient, bundle: Path) -> None:
    request = json.loads((FIXTURES / "requests" / "patient-view" / bundle.name).read_text())
    over_http = client.post(f"/cds-services/{SERVICE_ID}", json=request)
    assert over_http.status_code == 200
    printed = io.StringIO()
    with redirect_stdout(printed):
        args = ["evaluate", "--bundle", str(bundle), "--now", NOW.isoformat(), "--hook-instance"]
        assert main([*args, request["hookInstance"]]) == 0
    assert json.loads(printed.getvalue()) == over_http.get_json()
