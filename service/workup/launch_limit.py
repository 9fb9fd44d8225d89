"""Launches per client address (issue 23 row 8): ``/workup/launch`` needs no login yet writes a session row and calls
the FHIR server, so each address gets a fixed number of launches per window; over it, 429 with ``Retry-After``.

The table is cachetools' ``TTLCache``: bounded in size (the oldest addresses go first when it is full) and each
address's window ends ``window_s`` after its first launch. IPv6 clients are counted per /64, the block one host or
subscriber usually holds (RFC 6177), so an address-rotating client cannot get a fresh count per address. Each worker
keeps its own table: with N workers an address gets at most N times the limit.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

IPV6_PREFIX = 64


@dataclass
class _Window:
    started: float
    launches: int


def client_key(address: str | None) -> str:
    """The counted unit: an IPv4 address, the /64 of an IPv6 one, or the raw value when it is not an address."""
    try:
        parsed = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return address or "-"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


class LaunchLimiter:
    """At most ``limit`` launches per address per ``window_s``, remembered for at most ``max_addresses`` addresses."""

    def __init__(
        self, limit: int, window_s: float, max_addresses: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._windows: TTLCache[str, _Window] = TTLCache(maxsize=max(1, max_addresses), ttl=window_s, timer=clock)
        self._lock = threading.Lock()

    def retry_after(self, address: str | None) -> int | None:
        """None when this launch may go on (it is counted), else whole seconds until the address may launch again."""
        if self.limit <= 0:
            return None
        key, now = client_key(address), self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                self._windows[key] = _Window(now, 1)
                return None
            if window.launches < self.limit:
                window.launches += 1
                return None
            return max(1, math.ceil(window.started + self.window_s - now))

    def __len__(self) -> int:
        """Addresses currently remembered."""
        with self._lock:
            return len(self._windows)
