"""SIGTERM under load: readiness turns 503 at once, traffic keeps being answered, nothing queued is reset."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, select

from service.store.tables import issued_cards
from tests.faults.harness import SERVICE_ID, Instance, hook_bodies, serve

CLIENTS = 6
BACKLOG_REQUESTS = 12
STOP_WAIT_S = 30


def _client_loop(instance: Instance, stop: threading.Event, statuses: list[int | str], body: bytes) -> None:
    """Send hook calls until told to stop, like a load balancer's backend pool member."""
    while not stop.is_set():
        try:
            statuses.append(instance.call(body, timeout=15).status_code)
        except requests.RequestException as exc:
            statuses.append(type(exc).__name__)


def _readiness_after(instance: Instance) -> tuple[int, int]:
    """Wait for /readyz to fail (what a load balancer watches); the status and how many polls it took."""
    for polls in range(1, 200):
        status = requests.get(f"{instance.base}/readyz", timeout=5).status_code
        if status != 200:
            return status, polls
        time.sleep(0.02)
    return 200, 200


def test_sigterm_drains_before_stopping(tmp_path: Path) -> None:
    env = {"CDS_DRAIN_SECONDS": "3"}
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=2, env=env) as instance:
        stop = threading.Event()
        statuses: list[int | str] = []
        bodies = hook_bodies()
        clients = [
            threading.Thread(target=_client_loop, args=(instance, stop, statuses, bodies[n])) for n in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        time.sleep(0.5)
        before = len(statuses)
        instance.process.send_signal(signal.SIGTERM)
        ready_status, _ = _readiness_after(instance)
        healthz = requests.get(f"{instance.base}/healthz", timeout=5).status_code
        time.sleep(0.3)  # the balancer takes a moment to react: calls keep coming meanwhile
        stop.set()
        for client in clients:
            client.join(timeout=30)
        after = len(statuses) - before
        exit_code = instance.process.wait(timeout=STOP_WAIT_S)
    assert ready_status == 503 and healthz == 200
    assert after > 0, "no call was answered after SIGTERM"
    assert set(statuses) == {200}, {s for s in statuses if s != 200}
    assert exit_code == 0


def _raw_call(port: int, body: bytes) -> socket.socket:
    """A connected socket that has sent one whole hook call (so it waits in the listen backlog)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    head = (
        f"POST /cds-services/{SERVICE_ID} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def _status_of(sock: socket.socket) -> str:
    """The status line the server sent, or the error that ended the connection."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError as exc:
        return type(exc).__name__
    finally:
        sock.close()
    data = b"".join(chunks)
    return data.split(b"\r\n", 1)[0].decode() if data else "closed without an answer"


def test_requests_waiting_in_the_backlog_are_answered(tmp_path: Path) -> None:
    env = {"CDS_DRAIN_SECONDS": "0"}  # no drain period: the stop itself must not drop what is queued
    with serve(f"sqlite:///{tmp_path / 'cds.sqlite3'}", tmp_path, workers=1, env=env) as instance:
        port = int(instance.base.rsplit(":", 1)[1])
        bodies = hook_bodies()
        sockets = [_raw_call(port, bodies[n % len(bodies)]) for n in range(BACKLOG_REQUESTS)]
        instance.process.send_signal(signal.SIGTERM)
        statuses = [_status_of(sock) for sock in sockets]
        exit_code = instance.process.wait(timeout=STOP_WAIT_S)
    assert statuses == ["HTTP/1.1 200 OK"] * BACKLOG_REQUESTS, statuses
    assert exit_code == 0
    assert "closed its store" in instance.log()  # the worker's app released its store on the way out


LOAD_CLIENTS = 8
REFUSED = "ConnectionRefused"


def _outcome(instance: Instance, body: bytes, cards: set[str]) -> str:
    """One hook call on a new connection: "200", "ConnectionRefused" (never accepted) or what ended it."""
    try:
        answer = instance.call(body, timeout=20)
    except requests.ConnectionError as exc:
        return REFUSED if "refused" in str(exc).lower() else type(exc).__name__ + ": " + str(exc)[:80]
    except requests.RequestException as exc:
        return type(exc).__name__
    cards.update(card["uuid"] for card in answer.json().get("cards", []))
    return str(answer.status_code)


def _stored_card_uuids(path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(issued_cards.c.card_uuid)))
    finally:
        engine.dispose()


def test_sigterm_under_load_resets_no_accepted_request(tmp_path: Path) -> None:
    """c=8 on new connections, SIGTERM with a 1 s drain: every call is answered 200 or refused, none reset."""
    database = tmp_path / "cds.sqlite3"
    outcomes: list[str] = []
    cards: set[str] = set()
    bodies = hook_bodies()
    with serve(f"sqlite:///{database}", tmp_path, workers=2, env={"CDS_DRAIN_SECONDS": "1"}) as instance:
        stop = threading.Event()

        def load(n: int) -> None:
            while not stop.is_set():
                outcome = _outcome(instance, bodies[n % len(bodies)], cards)
                outcomes.append(outcome)
                if outcome == REFUSED:
                    return

        clients = [threading.Thread(target=load, args=(n,)) for n in range(LOAD_CLIENTS)]
        for client in clients:
            client.start()
        time.sleep(1.0)
        instance.process.send_signal(signal.SIGTERM)
        exit_code = instance.process.wait(timeout=STOP_WAIT_S)
        stop.set()
        for client in clients:
            client.join(timeout=30)
    resets = [o for o in outcomes if o not in ("200", REFUSED)]
    print(f"SIGTERM at c={LOAD_CLIENTS}: {outcomes.count('200')} answered, {len(resets)} reset or failed")
    assert outcomes.count("200") > 0 and not resets, resets
    assert exit_code == 0
    assert cards <= _stored_card_uuids(database)  # the card writers were written out on the way down
