"""/healthz and /readyz over a real ``serve``: JSON, outside authentication, never logged; gunicorn's own
refusals (414, 431) come back as the same JSON as the app's errors."""

from __future__ import annotations

import socket
from pathlib import Path

import requests

from tests.faults.harness import Signer, hook_bodies, serve


def test_probes_answer_json_without_a_token_and_stay_out_of_the_log(signer: Signer, tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, signer=signer) as instance:
        health = [requests.get(f"{instance.base}/healthz", timeout=5) for _ in range(5)]
        ready = [requests.get(f"{instance.base}/readyz", timeout=5) for _ in range(5)]
        unauthenticated = requests.post(instance.call_url, data=hook_bodies()[0], timeout=5)
        authenticated = instance.call(hook_bodies()[0])
        log = instance.log()
    assert {r.status_code for r in health} == {200} and health[0].json() == {"status": "ok"}
    assert {r.status_code for r in ready} == {200}
    assert ready[0].headers["Content-Type"] == "application/json"
    assert ready[0].json() == {"status": "ready", "checks": {"knowledge": "ok", "draining": "ok", "database": "ok"}}
    assert unauthenticated.status_code == 401 and authenticated.status_code == 200
    assert "healthz" not in log and "readyz" not in log


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_gunicorn_refusals_are_json_and_no_control_socket_is_claimed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home)}  # where gunicorn >= 24 would put gunicorn.ctl
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, env=env) as instance:
        port = int(instance.base.rsplit(":", 1)[1])
        long_line = _raw(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        big_header = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n")
        many_headers = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-N: 1\r\n" * 150 + b"\r\n")
        garbage = _raw(port, b"\x16\x03\x01 nonsense\r\n\r\n")
        log = instance.log()
    for answer, status in ((long_line, 414), (big_header, 431), (many_headers, 431), (garbage, 400)):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
        assert b"Content-Type: application/json" in head and body.startswith(b'{"error":'), answer
    assert "aaaa" not in log and "bbbb" not in log  # the refused request's text is not logged
    # Several instances on a host cannot fight over one control socket (the unit cache may be written there).
    assert not [path for path in home.rglob("*") if path.is_socket() or "gunicorn" in path.name]
