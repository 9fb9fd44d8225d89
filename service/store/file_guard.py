"""Is the SQLite file we write still the one at its path? A commit into a removed file is a commit into nothing.

SQLite keeps writing to a database file whose folder was removed or that was replaced: its open descriptors
point at the old inode, every commit succeeds, and the rows vanish with the last descriptor. So the store
remembers the file's identity (device and inode) when it first sees the file, and a write only counts as stored
when the same file is still at the path after its commit (``ResilientStore`` checks before and after). A missing
or replaced file makes writes and ``/readyz`` fail at once; the store stays unavailable until the instance is
restarted on a restored file (a file put back at the path is another inode: it is never adopted silently).
``serve`` takes the identity in the master before the workers fork, and the workers open the file without
creating it, so a worker started later (or restarted) never makes or adopts a new file after the first vanished.
A file that cannot be written (read-only mount, immutable) is unavailable too.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, make_url
from sqlalchemy.engine import URL

FileIdentity = tuple[int, int]
URI_PREFIX = "file:"


def sqlite_file(engine: Engine | URL | str) -> Path | None:
    """The database file of a SQLite engine or URL (also ``file:`` URIs); None for memory or other backends."""
    url = engine.url if isinstance(engine, Engine) else make_url(engine)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database.startswith(URI_PREFIX):
        database = database[len(URI_PREFIX) :].split("?", 1)[0]
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser().absolute()


def without_creating(url: str) -> str:
    """``url`` for a SQLite file as a ``mode=rw`` URI: opening never creates the file (other URLs unchanged).

    A worker started after the file vanished must not make a new, empty one (its inode may even be the old
    number, so the identity check alone could not tell).
    """
    path = sqlite_file(url)
    if path is None or make_url(url).query.get("uri"):
        return url
    return f"sqlite:///file:{quote(str(path))}?mode=rw&uri=true"


def identity(path: Path) -> FileIdentity | None:
    """(device, inode) of the file at ``path``; None when nothing is there (or its folder is gone)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


class FileGuard:
    """The identity of one SQLite file, taken once; ``problem()`` says whether the path still holds that file."""

    def __init__(self, path: Path, expected: FileIdentity | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._expected = expected or identity(path)

    def problem(self) -> str | None:
        """None while the file first seen is at its path and writable; else "file missing", "file replaced" or
        "read-only" (a read-only mount or an immutable file: SQLite's WAL would otherwise take commits it can never
        write back; ``access`` reports both even to root)."""
        current = identity(self.path)
        with self._lock:
            if self._expected is None:  # never seen yet: SQLite makes the file on the first connection
                if current is None:
                    return None
                self._expected = current
        if current is None:
            return "file missing"
        if current != self._expected:
            return "file replaced"
        return None if os.access(self.path, os.W_OK) else "read-only"


class VanishedFile(OSError):
    """The database file was removed or replaced under the running store."""
