"""The README's start command, for real: ``fasciculation-cds serve`` under gunicorn on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.conftest import ROOT
from tests.serving import CONSOLE_SCRIPT, served

REQUESTS = ROOT / "fixtures" / "requests" / "patient-view"


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the README's start command: the console script ``fasciculation-cds serve --workers 2``."""
    db = tmp_path_factory.mktemp("serve") / "cds.sqlite3"
    with served(f"sqlite:///{db}", tmp_path_factory.mktemp("cwd"), command=[str(CONSOLE_SCRIPT)]) as base:
        yield base


def test_discovery_over_http(served_app: str) -> None:
    rsp = requests.get(f"{served_app}/cds-services", timeout=5)
    assert rsp.status_code == 200
    assert rsp.headers["Content-Type"] == "application/json"
    hooks = {s["hook"] for s in rsp.json()["services"]}
    assert "patient-view" in hooks


def test_every_request_fixture_gets_spec_valid_cards(served_app: str) -> None:
    from cds_hooks.response import check_response

    fixtures = sorted(REQUESTS.glob("*.json"))
    assert fixtures, "fixtures/requests/patient-view is empty"
    service_id = requests.get(f"{served_app}/cds-services", timeout=5).json()["services"][0]["id"]
    for path in fixtures:
        rsp = requests.post(
            f"{served_app}/cds-services/{service_id}",
            data=path.read_bytes(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert rsp.status_code == 200, (path.name, rsp.text)
        check_response(rsp.json())


def test_bad_input_is_json_4xx_over_http(served_app: str) -> None:
    rsp = requests.post(f"{served_app}/cds-services/nope", data=b"{}", timeout=5)
    assert rsp.status_code == 404 and rsp.json()["error"] == "not_found"
    service_id = requests.get(f"{served_app}/cds-services", timeout=5).json()["services"][0]["id"]
    json_type = {"Content-Type": "application/json"}
    rsp = requests.post(f"{served_app}/cds-services/{service_id}", data=b"{oops", headers=json_type, timeout=5)
    assert rsp.status_code == 400 and rsp.json()["fields"] == {"body": ["is not valid JSON"]}
