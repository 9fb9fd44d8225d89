"""Idle and slow clients against a real ``serve``: they cost a socket, not a worker; a late request is answered 408.

Before: each sync worker blocked on the first connection that sent nothing, so two idle sockets stopped the
service and 200 slow-header clients left 1 ordinary call in 6 answered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from tests.faults.harness import SERVICE_ID, Instance, hook_bodies, serve

IDLE = 200
SLOW_HEADERS = 200
SLOW_BODIES = 20
ORDINARY_CALLS = 40
DRIP_INTERVAL_S = 0.5


def _port(instance: Instance) -> int:
    return int(instance.base.rsplit(":", 1)[1])


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setblocking(True)
    return sock


def _slow_header_start(port: int) -> socket.socket:
    sock = _connect(port)
    sock.sendall(f"POST /cds-services/{SERVICE_ID} HTTP/1.1\r\nHost: slow\r\nX-Slow: ".encode())
    return sock


def _slow_body_start(port: int) -> socket.socket:
    sock = _connect(port)
    head = f"POST /cds-services/{SERVICE_ID} HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
    sock.sendall(head.encode() + b"Content-Length: 100000\r\n\r\n{")
    return sock


@contextmanager
def slow_clients(port: int) -> Iterator[list[socket.socket]]:
    """Idle, slow-header and slow-body connections, the slow ones sending one byte every half second."""
    with ExitStack() as stack:
        idle = [stack.enter_context(_connect(port)) for _ in range(IDLE)]
        dripping = [stack.enter_context(_slow_header_start(port)) for _ in range(SLOW_HEADERS)]
        dripping += [stack.enter_context(_slow_body_start(port)) for _ in range(SLOW_BODIES)]
        stop = threading.Event()

        def drip() -> None:
            while not stop.wait(DRIP_INTERVAL_S):
                for sock in dripping:
                    try:
                        sock.send(b"a" if sock.fileno() >= 0 else b"")
                    except OSError:
                        pass

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        try:
            yield idle + dripping
        finally:
            stop.set()
            dripper.join(timeout=5)


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def test_ordinary_calls_are_answered_among_idle_and_slow_clients(tmp_path: Path) -> None:
    env = {"CDS_REQUEST_READ_TIMEOUT_S": "60"}  # the slow clients stay for the whole test
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=2, env=env) as instance:
        body = hook_bodies()[0]
        with slow_clients(_port(instance)):
            time.sleep(1.0)  # every slow client has sent a byte or two by now
            latencies, statuses = [], []
            for _ in range(ORDINARY_CALLS):
                started = time.monotonic()
                try:
                    statuses.append(instance.call(body, timeout=10).status_code)
                except requests.RequestException as exc:
                    statuses.append(type(exc).__name__)
                    break  # starved: no need to wait for the others
                latencies.append(time.monotonic() - started)
            healthz = requests.get(f"{instance.base}/healthz", timeout=5).status_code
    p99_ms = _p99(latencies) * 1000
    print(
        f"ordinary calls among {IDLE} idle + {SLOW_HEADERS} slow-header + {SLOW_BODIES} slow-body: p99 {p99_ms:.1f} ms"
    )
    assert statuses == [200] * ORDINARY_CALLS and healthz == 200, statuses
    assert p99_ms < 2000


def _answer(sock: socket.socket) -> tuple[str, float]:
    started = time.monotonic()
    try:
        data = sock.recv(4096)
    except OSError as exc:
        return type(exc).__name__, time.monotonic() - started
    return data.split(b"\r\n", 1)[0].decode(), time.monotonic() - started


def test_a_request_not_read_within_the_deadline_is_answered_408(tmp_path: Path) -> None:
    env = {"CDS_REQUEST_READ_TIMEOUT_S": "2"}
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=1, env=env) as instance:
        port = _port(instance)
        with _slow_header_start(port) as header_sock, _slow_body_start(port) as body_sock:
            answers = [_answer(header_sock), _answer(body_sock)]
        ordinary = instance.call(hook_bodies()[0]).status_code
    assert [status for status, _ in answers] == ["HTTP/1.1 408 Request Timeout"] * 2, answers
    assert all(waited < 2 + 1.5 for _, waited in answers), answers
    assert ordinary == 200


def test_a_slow_pipelined_request_holds_no_thread(tmp_path: Path) -> None:
    """A whole request followed by the start of a second one, then nothing: the second is read in the loop too."""
    env = {"CDS_REQUEST_READ_TIMEOUT_S": "3", "CDS_WORKER_THREADS": "2"}
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=1, env=env) as instance:
        with ExitStack() as stack:
            stalled = [stack.enter_context(_connect(_port(instance))) for _ in range(8)]
            for sock in stalled:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHo")
            time.sleep(0.5)
            ordinary = [requests.get(f"{instance.base}/healthz", timeout=2).status_code for _ in range(4)]
            answers = b""
            while b"408" not in answers and len(answers) < 4096:
                chunk = stalled[0].recv(4096)
                if not chunk:
                    break
                answers += chunk
    assert ordinary == [200] * 4
    assert answers.count(b"HTTP/1.1 200 OK") == 1 and b"HTTP/1.1 408 Request Timeout" in answers


def _never_reading(port: int) -> socket.socket:
    """A client with a tiny receive buffer that asks for the OpenAPI document many times and reads nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: a\r\n\r\n" * 2000)  # ~37 MB of answers
    return sock


def test_clients_that_stop_reading_their_answers_free_the_threads(tmp_path: Path) -> None:
    env = {"CDS_REQUEST_READ_TIMEOUT_S": "2", "CDS_WORKER_THREADS": "2"}
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=1, env=env) as instance:
        with ExitStack() as stack:
            for _ in range(4):
                stack.enter_context(_never_reading(_port(instance)))
            time.sleep(0.5)
            started = time.monotonic()
            status = requests.get(f"{instance.base}/healthz", timeout=15).status_code
            waited = time.monotonic() - started
            time.sleep(2.5)  # every stalled answer has hit the write deadline
    log = instance.log()
    assert status == 200 and waited < 10, waited
    assert "did not read its answer" in log and "Traceback" not in log
