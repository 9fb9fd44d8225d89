"""The README's start command, for real: ``fasciculation-cds serve`` under gunicorn on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "fasciculation-cds"
REQUESTS = ROOT / "fixtures" / "requests" / "patient-view"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running ``fasciculation-cds serve --workers 2``."""
    port = free_port()
    db = tmp_path_factory.mktemp("serve") / "cds.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env["CDS_DATABASE_URL"] = f"sqlite:///{db}"
    process = subprocess.Popen(
        [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        cwd=tmp_path_factory.mktemp("cwd"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{base}/cds-services", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    _, err = process.communicate(timeout=5)
                    raise AssertionError(f"serve did not start: {err.decode()[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def test_discovery_over_http(served: str) -> None:
    rsp = requests.get(f"{served}/cds-services", timeout=5)
    assert rsp.status_code == 200
    assert rsp.headers["Content-Type"] == "application/json"
    hooks = {s["hook"] for s in rsp.json()["services"]}
    assert "patient-view" in hooks


def test_every_request_fixture_gets_spec_valid_cards(served: str) -> None:
    from cds_hooks.response import check_response

    fixtures = sorted(REQUESTS.glob("*.json"))
    assert fixtures, "fixtures/requests/patient-view is empty"
    service_id = requests.get(f"{served}/cds-services", timeout=5).json()["services"][0]["id"]
    for path in fixtures:
        rsp = requests.post(
            f"{served}/cds-services/{service_id}",
            data=path.read_bytes(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert rsp.status_code == 200, (path.name, rsp.text)
        check_response(rsp.json())


def test_bad_input_is_json_4xx_over_http(served: str) -> None:
    rsp = requests.post(f"{served}/cds-services/nope", data=b"{}", timeout=5)
    assert rsp.status_code == 404 and rsp.json()["error"] == "not_found"
    service_id = requests.get(f"{served}/cds-services", timeout=5).json()["services"][0]["id"]
    rsp = requests.post(f"{served}/cds-services/{service_id}", data=b"{oops", timeout=5)
    assert rsp.status_code == 400 and rsp.json()["fields"] == {"body": ["is not valid JSON"]}
