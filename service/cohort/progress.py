"""Progress of a long run on stderr: a bar on a terminal, plain periodic lines otherwise. Counts only, never ids."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

PLAIN_EVERY_S = 10.0
BAR_EVERY_S = 0.2
BAR_WIDTH = 30


@dataclass
class Progress:
    """Patients done out of a total, with the rate and the time left."""

    total: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _shown: float = 0.0

    @property
    def interactive(self) -> bool:
        """Whether stderr is a terminal (then one bar line is redrawn in place)."""
        return self.stream.isatty()

    def note(self, text: str) -> None:
        """A stage line (reading, grouping, writing)."""
        self._clear()
        self.stream.write(f"cohort: {text}\n")
        self.stream.flush()

    def advance(self, patients: int) -> None:
        """``patients`` more screened; redraw when due."""
        self.done += patients
        now = time.monotonic()
        if now - self._shown >= (BAR_EVERY_S if self.interactive else PLAIN_EVERY_S) or self.done >= self.total:
            self._shown = now
            self._show(now)

    def line(self, now: float | None = None) -> str:
        """``N/M patients, R patients/s, ETA S s``."""
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = f"{left:.0f} s" if left != float("inf") else "?"
        return f"{self.done}/{self.total} patients, {rate:.1f} patients/s, ETA {eta}"

    def _show(self, now: float) -> None:
        text = self.line(now)
        if self.interactive:
            filled = int(BAR_WIDTH * self.done / self.total) if self.total else BAR_WIDTH
            self.stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}\033[K")
        else:
            self.stream.write(f"cohort: screened {text}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.interactive and self._shown:
            self.stream.write("\r\033[K")

    def close(self) -> None:
        """End the bar line."""
        if self.interactive and self._shown:
            self.stream.write("\n")
            self.stream.flush()
