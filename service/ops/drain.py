"""The draining flag: set by the gunicorn master on SIGTERM, read by every worker's ``/readyz``."""

from __future__ import annotations

import mmap


class DrainState:
    """One byte of anonymous shared memory: created before the workers fork, so all of them see the master's write."""

    def __init__(self) -> None:
        self._flag = mmap.mmap(-1, 1)

    def start(self) -> None:
        """From now on the instance is draining (``/readyz`` answers 503)."""
        self._flag[0] = 1

    @property
    def draining(self) -> bool:
        """True once ``start`` was called in any process sharing this state."""
        return self._flag[0] == 1
