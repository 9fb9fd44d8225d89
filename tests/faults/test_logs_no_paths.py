"""``serve`` at ``CDS_LOG_LEVEL=DEBUG``: no line names the patient, whatever path, query or broken request names it.

Before: gunicorn's default ``pre_request`` hook logged ``GET /cds-services/<id>`` at DEBUG, and its DEBUG lines for
a client that hung up mid-request printed the bytes received (``No more data after: b'GET /workup/?patient=...``).
Every line of the log is searched, in both log formats.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import requests

from service.logs import LogFormat
from tests.faults.harness import SERVICE_ID, hook_bodies, serve

PATIENT = "pat-probe-77123"


def _half_request(base: str, raw: bytes) -> None:
    """Send the start of a request, then hang up (gunicorn logs the premature disconnection)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(raw)


@pytest.mark.parametrize("log_format", list(LogFormat))
def test_debug_log_names_no_patient(tmp_path: Path, log_format: LogFormat) -> None:
    env = {"CDS_LOG_LEVEL": "DEBUG", "CDS_LOG_FORMAT": str(log_format)}
    body = hook_bodies()[0]
    patient_in_body = json.loads(body)["context"]["patientId"]
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=1, env=env) as instance:
        statuses = [
            requests.get(f"{instance.base}/cds-services/{PATIENT}", timeout=10).status_code,
            requests.get(f"{instance.base}/workup/?patient={PATIENT}&iss=x", timeout=10).status_code,
            requests.post(f"{instance.base}/cds-services/{PATIENT}?p={PATIENT}", data=b"{}", timeout=10).status_code,
            requests.post(
                instance.call_url, data=body, headers={"Content-Type": "application/json"}, timeout=10
            ).status_code,
        ]
        _half_request(instance.base, f"GET /cds-services/{SERVICE_ID}?patient={PATIENT} HTTP/1.1\r\nHost: x".encode())
        _half_request(instance.base, f"POST /cds-services/{PATIENT} HTTP/1.1\r\nContent-Length: 50\r\n\r\n{{".encode())
        requests.get(f"{instance.base}/healthz", timeout=10)  # the worker has handled both hang-ups by now
    log = instance.log()
    assert 200 in statuses and "DEBUG" in log, statuses  # the calls were served and the level was DEBUG
    leaking = [line for line in log.splitlines() if PATIENT in line or patient_in_body in line]
    assert not leaking, leaking
